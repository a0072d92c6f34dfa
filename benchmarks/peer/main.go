// Command benthos is the peer of Gannet's benchmarks: Benthos v4.27.0 (MIT)
// with only the components the comparison needs (file input and output,
// Bloblang mapping, parquet_encode).
package main

import (
	"context"

	_ "github.com/benthosdev/benthos/v4/public/components/io"
	_ "github.com/benthosdev/benthos/v4/public/components/pure"
	_ "github.com/benthosdev/benthos/v4/public/components/pure/extended"
	"github.com/benthosdev/benthos/v4/public/service"
)

func main() {
	service.RunCLI(context.Background())
}

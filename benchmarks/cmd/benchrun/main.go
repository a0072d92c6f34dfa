// Command benchrun runs Gannet's benchmark suite and writes
// benchmarks/REPORT.md: the hot-path benchmarks (go test -bench), the peer
// comparison with Benthos and a plain encoding/json + pqarrow baseline on one
// generated file, the cold start of the ingest Lambda under the runtime
// emulator, peak RSS, and the paper's §2.7 cost table from measured CPU
// time. Its other subcommands are the child processes the report measures.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchrun report|gen|gannet-file|rss|batchcpu|init|cost|geoip [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"report":      cmdReport,
		"gen":         cmdGen,
		"gannet-file": cmdGannetFile,
		"rss":         cmdRSS,
		"batchcpu":    cmdBatchCPU,
		"cost":        cmdCost,
		"init":        cmdInit,
		"geoip":       cmdGeoIP,
	}
	c := cmds[os.Args[1]]
	if c == nil {
		fmt.Fprintf(os.Stderr, "benchrun: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := c(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun "+os.Args[1]+":", err)
		os.Exit(1)
	}
}

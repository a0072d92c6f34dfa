package alb_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gannet-sec/gannet/stream/format/alb"
	"github.com/gannet-sec/gannet/stream/format/s3access"
	"github.com/gannet-sec/gannet/stream/format/vpcflow"
	"github.com/gannet-sec/gannet/stream/gen"
)

// TestSniffExclusive checks that the three text formats' sniffers agree on
// generated lines (with attacks) and on every golden sample: each line is
// claimed by its own format and by no other.
func TestSniffExclusive(t *testing.T) {
	sniffers := []struct {
		name  string
		sniff func([]byte) bool
		gen   func(io.Writer, gen.Options) error
		data  string
	}{
		{"alb", alb.Sniff, alb.Generate, "testdata"},
		{"vpcflow", vpcflow.Sniff, vpcflow.Generate, "../vpcflow/testdata"},
		{"s3access", s3access.Sniff, s3access.Generate, "../s3access/testdata"},
	}
	for i, s := range sniffers {
		var buf bytes.Buffer
		if err := s.gen(&buf, gen.Options{Count: 1000, Seed: 5, Attacks: true}); err != nil {
			t.Fatal(err)
		}
		logs, _ := filepath.Glob(filepath.Join(s.data, "*.log"))
		for _, l := range logs {
			b, err := os.ReadFile(l)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
		}
		sc := bufio.NewScanner(&buf)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			for j, o := range sniffers {
				if got := o.sniff(sc.Bytes()); got != (i == j) {
					t.Errorf("%s.Sniff = %v on a %s line: %.80s", o.name, got, s.name, sc.Bytes())
				}
			}
		}
	}
}

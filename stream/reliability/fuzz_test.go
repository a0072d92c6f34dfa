package reliability_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gannet-sec/gannet/detect/anomaly"
	"github.com/gannet-sec/gannet/stream/config"
)

// Fuzz targets for parsers that had none (see README): they must never
// panic, whatever the input.

// FuzzAnomalyRestore: a baseline snapshot read back at start (it comes from
// storage, so it may be truncated or tampered with).
func FuzzAnomalyRestore(f *testing.F) {
	d := anomaly.New(anomaly.Config{})
	var buf bytes.Buffer
	if err := d.Snapshot(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"version":1,"rate":[{"k":"00","b":[1,2,3]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = anomaly.New(anomaly.Config{}).Restore(bytes.NewReader(data))
	})
}

// FuzzConfigLoad: the YAML configuration and its environment twins.
func FuzzConfigLoad(f *testing.F) {
	f.Add([]byte("format: auto\nmax_record_bytes: 64MiB\nsources:\n  - match: 'arn:*'\n    format: cloudtrail\n"), "GANNET_BATCH_SIZE", "10")
	f.Add([]byte("max_record_bytes: 9999999999999999999GiB\n"), "GANNET_MAX_RECORD_BYTES", "-1KiB")
	f.Add([]byte("deadline_margin: 1h\nlake: s3://b/p\n"), "GANNET_SOURCES", "a=b,c")
	f.Fuzz(func(t *testing.T, yaml []byte, key, value string) {
		p := filepath.Join(t.TempDir(), "gannet.yaml")
		if err := os.WriteFile(p, yaml, 0o600); err != nil {
			t.Fatal(err)
		}
		env := func(k string) (string, bool) {
			if k == key {
				return value, true
			}
			return "", false
		}
		_, _ = config.Load(p, env)
		_, _ = config.ParseByteSize(value)
	})
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadFileThenEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gannet.yaml")
	os.WriteFile(file, []byte(`
format: auto
max_record_bytes: 8MiB
sources:
  - match: "arn:aws:kinesis:*:*:stream/alb-*"
    format: alb
intel: [a.txt]
`), 0o644)
	c, err := Load(file, envMap(map[string]string{"GANNET_INTEL": "x.txt, y.txt", "GANNET_DEADLINE_MARGIN": "3s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxRecordBytes != 8<<20 {
		t.Errorf("max_record_bytes = %d", c.MaxRecordBytes)
	}
	if strings.Join(c.Intel, "|") != "x.txt|y.txt" {
		t.Errorf("intel = %v (env must override the file)", c.Intel)
	}
	if c.DeadlineMargin != 3*time.Second {
		t.Errorf("deadline_margin = %s", c.DeadlineMargin)
	}
	if f := c.FormatFor("arn:aws:kinesis:eu-west-1:123456789012:stream/alb-prod"); f != stream.FormatALB {
		t.Errorf("FormatFor = %s", f)
	}
	if f := c.FormatFor("other"); f != stream.FormatUnknown {
		t.Errorf("FormatFor(other) = %s, want unknown (auto)", f)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"unknown key", "formatt: alb\n", nil, "field formatt not found"},
		{"bad format", "format: apache\n", nil, `format = "apache": want auto or one of`},
		{"bad size", "max_record_bytes: lots\n", nil, "want a size such as"},
		{"bad source format", "sources: [{match: 'x*', format: nope}]\n", nil, `sources[0].format = "nope"`},
		{"bad env int", "", map[string]string{"GANNET_BATCH_SIZE": "many"}, `GANNET_BATCH_SIZE (key "batch_size") = "many": want an integer`},
		{"bad env sources", "", map[string]string{"GANNET_SOURCES": "x"}, "pattern=format"},
		{"bad level", "log_level: loud\n", nil, "log_level"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := ""
			if tc.yaml != "" {
				file = filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
				os.WriteFile(file, []byte(tc.yaml), 0o644)
			}
			_, err := Load(file, envMap(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"123": 123, "64KiB": 64 << 10, "64MiB": 64 << 20, "1GiB": 1 << 30, "10MB": 10e6, "5kb": 5000} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseByteSize("-1"); err == nil {
		t.Error("negative size accepted")
	}
}

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEnrichReload(t *testing.T) {
	c, err := Load("", envMap(map[string]string{"GANNET_ENRICH_RELOAD": "30s"}))
	if err != nil || c.EnrichReload != 30*time.Second {
		t.Fatalf("reload = %s, %v", c.EnrichReload, err)
	}
	if _, err := Load("", envMap(map[string]string{"GANNET_ENRICH_RELOAD": "-1s"})); err == nil || !strings.Contains(err.Error(), "enrich_reload") {
		t.Fatalf("negative reload: %v", err)
	}
}

func TestAnomalyKeys(t *testing.T) {
	c, err := Load("", envMap(map[string]string{"GANNET_ANOMALY": "true", "GANNET_ANOMALY_ERROR_FACTOR": "4"}))
	if err != nil || !c.Anomaly || c.AnomalyErrorFactor != 4 {
		t.Fatalf("anomaly keys: %+v, %v", c, err)
	}
	if _, err := Load("", envMap(map[string]string{"GANNET_ANOMALY_ERROR_FACTOR": "-1"})); err == nil || !strings.Contains(err.Error(), "anomaly_error_factor") {
		t.Errorf("negative factor: %v", err)
	}
}

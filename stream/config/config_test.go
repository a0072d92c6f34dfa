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

func TestAnomalySnapshotInterval(t *testing.T) {
	dir := t.TempDir()
	state := map[string]string{"GANNET_ANOMALY": "true", "GANNET_ANOMALY_STATE": filepath.Join(dir, "state")}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range state {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	yamlFile := func(name, body string) string {
		f := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}

	// Defaults: 5m with anomaly_state, nothing without.
	c, err := Load("", envMap(state))
	if err != nil || c.AnomalySnapshotInterval != 5*time.Minute {
		t.Fatalf("default with anomaly_state = %s, %v; want 5m", c.AnomalySnapshotInterval, err)
	}
	if c, err := Load("", envMap(nil)); err != nil || c.AnomalySnapshotInterval != 0 {
		t.Fatalf("default without anomaly_state = %s, %v; want 0", c.AnomalySnapshotInterval, err)
	}
	if c, err := Load(yamlFile("null", "anomaly_snapshot_interval:\n"), envMap(state)); err != nil || c.AnomalySnapshotInterval != DefaultAnomalySnapshotInterval {
		t.Fatalf("an empty key is the default: %s, %v", c.AnomalySnapshotInterval, err)
	}

	// Parsing: environment, file, environment over file; 0 = only at stop.
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		want       time.Duration
	}{
		{"env", "", with("GANNET_ANOMALY_SNAPSHOT_INTERVAL", "30s"), 30 * time.Second},
		{"file", "anomaly: true\nanomaly_state: s\nanomaly_snapshot_interval: 90s\n", nil, 90 * time.Second},
		{"env over file", "anomaly: true\nanomaly_state: s\nanomaly_snapshot_interval: 90s\n", map[string]string{"GANNET_ANOMALY_SNAPSHOT_INTERVAL": "1h"}, time.Hour},
		{"env zero", "", with("GANNET_ANOMALY_SNAPSHOT_INTERVAL", "0"), 0},
		{"file zero", "anomaly: true\nanomaly_state: s\nanomaly_snapshot_interval: 0s\n", nil, 0},
	} {
		file := ""
		if tc.yaml != "" {
			file = yamlFile(strings.ReplaceAll(tc.name, " ", "_"), tc.yaml)
		}
		c, err := Load(file, envMap(tc.env))
		if err != nil || c.AnomalySnapshotInterval != tc.want {
			t.Errorf("%s: anomaly_snapshot_interval = %s, %v; want %s", tc.name, c.AnomalySnapshotInterval, err, tc.want)
		}
	}

	// Rejections name the key and the value.
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{"negative", "", with("GANNET_ANOMALY_SNAPSHOT_INTERVAL", "-1m"), "config: anomaly_snapshot_interval = -1m0s: want a positive duration such as 5m, or 0s for snapshots only at a graceful stop"},
		{"not a duration", "", with("GANNET_ANOMALY_SNAPSHOT_INTERVAL", "soon"), `GANNET_ANOMALY_SNAPSHOT_INTERVAL (key "anomaly_snapshot_interval") = "soon": want a duration`},
		{"without anomaly_state (env)", "", map[string]string{"GANNET_ANOMALY": "true", "GANNET_ANOMALY_SNAPSHOT_INTERVAL": "1m"}, "config: anomaly_snapshot_interval = 1m0s: needs anomaly_state"},
		{"without anomaly_state (file)", "anomaly: true\nanomaly_snapshot_interval: 2m\n", nil, "config: anomaly_snapshot_interval = 2m0s: needs anomaly_state"},
		{"zero without anomaly_state", "anomaly_snapshot_interval: 0s\n", nil, "config: anomaly_snapshot_interval = 0s: needs anomaly_state"},
	} {
		file := ""
		if tc.yaml != "" {
			file = yamlFile("bad_"+strings.ReplaceAll(tc.name, " ", "_"), tc.yaml)
		}
		if _, err := Load(file, envMap(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}

	// Validate alone (a Config built in Go): a set interval needs anomaly_state.
	c = Default()
	c.AnomalySnapshotInterval = time.Minute
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "anomaly_snapshot_interval = 1m0s: needs anomaly_state") {
		t.Errorf("Validate: %v", err)
	}
	c.Anomaly, c.AnomalyState = true, dir
	if err := c.Validate(); err != nil {
		t.Errorf("Validate with anomaly_state: %v", err)
	}
}

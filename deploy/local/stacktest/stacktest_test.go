package stacktest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestUniqueNameIsValidEverywhere(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9-]{2,62}$`)
	seen := map[string]bool{}
	for _, prefix := range []string{"smoke", "Leases_Table", "", "9lives", strings.Repeat("long", 30)} {
		n := UniqueName(t, prefix)
		if !valid.MatchString(n) || strings.Contains(n, "--") || strings.HasSuffix(n, "-") {
			t.Errorf("UniqueName(%q) = %q: not a valid stream/bucket/index name", prefix, n)
		}
		if seen[n] {
			t.Errorf("UniqueName(%q) = %q twice", prefix, n)
		}
		seen[n] = true
	}
}

func TestReadStateParsesPlainAndExportLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.env")
	content := "# comment\nGANNET_KINESIS_ENDPOINT=http://127.0.0.1:1234\nexport GANNET_ES_URL='http://127.0.0.1:9200'\n\nbroken line\n"
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := readState(p)
	if err != nil {
		t.Fatal(err)
	}
	if m["GANNET_KINESIS_ENDPOINT"] != "http://127.0.0.1:1234" || m["GANNET_ES_URL"] != "http://127.0.0.1:9200" || len(m) != 2 {
		t.Fatalf("readState = %v", m)
	}
}

func TestLookupPrefersEnvironmentOverStateFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GANNET_STACK_DIR", dir)
	state := "GANNET_KINESIS_ENDPOINT=http://127.0.0.1:1\nGANNET_S3_ENDPOINT=http://127.0.0.1:2\n"
	if err := os.WriteFile(filepath.Join(dir, "state.env"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GANNET_KINESIS_ENDPOINT", "http://127.0.0.1:9")
	t.Setenv("GANNET_S3_ENDPOINT", "")
	e := Lookup()
	if e.KinesisEndpoint != "http://127.0.0.1:9" || e.S3Endpoint != "http://127.0.0.1:2" || e.StackDir != dir {
		t.Fatalf("Lookup = %+v", e)
	}
}

func TestCheckNamesComponentAndReason(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GANNET_STACK_DIR", dir)
	t.Setenv("GANNET_ES_URL", "")
	state := map[string]string{"GANNET_UNAVAILABLE_ELASTICSEARCH": "missing toolchain: java (JDK 17)"}
	err := Lookup().check(Elasticsearch, state)
	if err == nil || !strings.Contains(err.Error(), "GANNET_ES_URL") || !strings.Contains(err.Error(), "java") {
		t.Fatalf("check = %v", err)
	}
	// A configured endpoint where nothing listens is reported with the server's name.
	t.Setenv("GANNET_KINESIS_ENDPOINT", "http://127.0.0.1:1")
	err = Lookup().check(Kinesis, nil)
	if err == nil || !strings.Contains(err.Error(), "kinesalite") {
		t.Fatalf("check = %v", err)
	}
}

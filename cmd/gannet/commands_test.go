package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLakeDDL(t *testing.T) {
	out := mustGannet(t, "lake", "ddl", "--location", "s3://b/p", "alb", "cloudtrail")
	if strings.Count(out, "CREATE EXTERNAL TABLE") != 2 || !strings.Contains(out, "s3://b/p/alb") || !strings.Contains(out, "projection.enabled") {
		t.Fatalf("ddl = %s", out)
	}
	if _, errs, code := gannet(t, "lake", "ddl", "nosuch"); code != 2 || !strings.Contains(errs, "unknown table") {
		t.Fatalf("unknown table: exit %d, %s", code, errs)
	}
}

func TestLakeWrittenByRunAndCompacted(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "alb.log")
	os.WriteFile(in, []byte(mustGannet(t, "gen", "--format", "alb", "--count", "500", "--seed", "2")), 0o644)
	lakeDir := filepath.Join(dir, "lake")
	// Several small files in one partition: one run per batch of 50 lines.
	for i := 0; i < 3; i++ {
		mustGannet(t, "run", "--progress", "never", "--batch-size", "50", "--lake", lakeDir, "--dlq", filepath.Join(dir, "dlq"), in)
	}
	var files []string
	filepath.WalkDir(filepath.Join(lakeDir, "alb"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no parquet files in the lake")
	}
	// The same input processed again writes the same keys: no second copy.
	again := len(files)
	mustGannet(t, "run", "--progress", "never", "--batch-size", "50", "--lake", lakeDir, "--dlq", filepath.Join(dir, "dlq"), in)
	n := 0
	filepath.WalkDir(filepath.Join(lakeDir, "alb"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			n++
		}
		return nil
	})
	if n != again {
		t.Fatalf("rerun changed the number of lake files: %d → %d", again, n)
	}
	part, _ := filepath.Rel(filepath.Join(lakeDir, "alb"), filepath.Dir(files[0]))
	out := mustGannet(t, "lake", "compact", "--lake", lakeDir, "--table", "alb", "--partition", part)
	if !strings.Contains(out, "compacted alb/"+part) {
		t.Fatalf("compact: %s", out)
	}
}

func TestDLQShowAndReplay(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "mixed.log")
	good := strings.TrimSpace(mustGannet(t, "gen", "--format", "alb", "--count", "3", "--seed", "1"))
	os.WriteFile(in, []byte(good+"\nnot a log line\n"), 0o644)
	dlqDir := filepath.Join(dir, "dlq")
	mustGannet(t, "run", "--progress", "never", "--format", "alb", "--dlq", dlqDir, in)
	show := mustGannet(t, "dlq", "show", dlqDir)
	if !strings.Contains(show, "parse") || !strings.Contains(show, "alb_") {
		t.Fatalf("dlq show = %s", show)
	}
	again := filepath.Join(dir, "again")
	out := mustGannet(t, "dlq", "replay", "--dlq", again, dlqDir)
	if !strings.Contains(out, "replayed 1 dead letters: 0 events out, 1 dead-lettered again") {
		t.Fatalf("replay = %s", out)
	}
	if _, errs, code := gannet(t, "dlq", "replay", "--dlq", dlqDir, dlqDir); code != 2 || !strings.Contains(errs, "must differ") {
		t.Fatalf("replay into its source: exit %d %s", code, errs)
	}
}

func TestRulesTestAndLintBuiltins(t *testing.T) {
	out := mustGannet(t, "rules", "test", "../../detect/rules")
	if !strings.Contains(out, " 0 failed") {
		t.Fatalf("rules test: %s", out)
	}
	out = mustGannet(t, "rules", "lint", "../../detect/rules")
	if !strings.Contains(out, " 0 errors") {
		t.Fatalf("rules lint: %s", out)
	}
}

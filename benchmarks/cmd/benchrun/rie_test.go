package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureRIEHonoursAndChecksTheVariable(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "aws-lambda-rie")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GANNET_LAMBDA_RIE", exe)
	if got, err := ensureRIE(); err != nil || got != exe {
		t.Fatalf("ensureRIE() = %q, %v; want %q", got, err, exe)
	}
	plain := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{plain, dir, filepath.Join(dir, "missing")} {
		t.Setenv("GANNET_LAMBDA_RIE", bad)
		if got, err := ensureRIE(); err == nil || !strings.Contains(err.Error(), "GANNET_LAMBDA_RIE") {
			t.Errorf("GANNET_LAMBDA_RIE=%s: ensureRIE() = %q, %v; want an error naming the variable", bad, got, err)
		}
	}
}

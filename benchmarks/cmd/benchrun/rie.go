package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
)

// ensureRIE returns the path of an executable aws-lambda-rie: the one
// GANNET_LAMBDA_RIE names, else the pinned binary `deploy/local/stack
// install lambda-rie` puts into the stack cache (it builds it from the Go
// module proxy the first time and starts nothing). The emulator is a
// binary run per test, not a server, so no `stack up` is needed.
func ensureRIE() (string, error) {
	if v := strings.TrimSpace(os.Getenv("GANNET_LAMBDA_RIE")); v != "" {
		if err := executable(v); err != nil {
			return "", fmt.Errorf("GANNET_LAMBDA_RIE=%s: %w", v, err)
		}
		return v, nil
	}
	cmd := exec.Command(filepath.Join("deploy", "local", "stack"), "install", "lambda-rie")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("deploy/local/stack install lambda-rie: %w", err)
	}
	p := filepath.Join(stacktest.Lookup().StackDir, "bin", "aws-lambda-rie")
	if err := executable(p); err != nil {
		return "", fmt.Errorf("deploy/local/stack install lambda-rie did not install the emulator (%w); see its log above", err)
	}
	return p, nil
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}

//go:build tools

// Package tools pins the security tools .ci/security builds: govulncheck,
// gosec, and indexdb (which turns the OSV files of golang.org/x/vulndb into
// the database govulncheck reads offline).
package tools

import (
	_ "github.com/securego/gosec/v2/cmd/gosec"
	_ "golang.org/x/vuln/cmd/govulncheck"
	_ "golang.org/x/vulndb/cmd/indexdb"
)

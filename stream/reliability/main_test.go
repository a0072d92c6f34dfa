package reliability_test

import (
	"os"
	"testing"

	"github.com/gannet-sec/gannet/stream/reliability/harness"
)

// TestMain lets the fault matrix re-execute this test binary as a KCL
// worker (harness.Start) that it can SIGKILL.
func TestMain(m *testing.M) {
	harness.RunChildIfAsked()
	os.Exit(m.Run())
}

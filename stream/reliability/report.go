package reliability

import (
	"fmt"
	"os"
	"testing"
)

// Log prints the accounting table of reports in the test log and, with
// -v, on standard output too (so `make chaos` shows it even when the test
// passes).
func Log(t testing.TB, reports ...*Report) {
	t.Helper()
	tab := Table(reports...)
	t.Log("\n" + tab)
	if testing.Verbose() {
		fmt.Fprint(os.Stdout, "\naccounting: "+t.Name()+"\n"+tab)
	}
	for _, r := range reports {
		if len(r.LostIDs) > 0 {
			t.Logf("%s: lost ids (first %d): %v", r.Name, len(r.LostIDs), r.LostIDs)
		}
	}
}

// Check fails t unless every report is OK (nothing lost or duplicated,
// every dead letter with a reason).
func Check(t testing.TB, reports ...*Report) {
	t.Helper()
	for _, r := range reports {
		if !r.OK() {
			t.Errorf("%s: lost=%d duplicated-in-es=%d dead-letters-without-reason=%d", r.Name, r.Lost, r.DuplicatedES, r.NoReason)
		}
	}
}

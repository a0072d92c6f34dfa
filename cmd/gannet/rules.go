package main

import (
	"fmt"
	"io"

	"github.com/gannet-sec/gannet/detect"
)

func cmdRules(args []string, stdout, stderr io.Writer) error {
	const help = "Usage: gannet rules test DIR    run the rule test cases of DIR/tests/*.yml\n" +
		"       gannet rules lint DIR…    check Sigma rules for problems\n"
	if len(args) < 2 {
		fmt.Fprint(stderr, help)
		return errUsage
	}
	switch args[0] {
	case "test":
		rep, err := detect.RunTests(args[1])
		if err != nil {
			return err
		}
		for _, c := range rep.Cases {
			status := "ok  "
			if !c.Pass {
				status = "FAIL"
			}
			fmt.Fprintf(stdout, "%s %s: %s [%s]", status, c.File, c.Name, c.Rule)
			if !c.Pass {
				fmt.Fprintf(stdout, ": %s", c.Reason)
			}
			fmt.Fprintln(stdout)
		}
		for _, id := range rep.Untested {
			fmt.Fprintf(stdout, "untested rule %s\n", id)
		}
		fmt.Fprintf(stdout, "%d passed, %d failed\n", rep.Passed, rep.Failed)
		if !rep.OK() {
			return fmt.Errorf("%d rule test cases failed", rep.Failed)
		}
		return nil
	case "lint":
		findings, err := detect.Lint(args[1:]...)
		if err != nil {
			return err
		}
		errs := 0
		for _, f := range findings {
			fmt.Fprintln(stdout, f.String())
			if f.Level == "error" {
				errs++
			}
		}
		fmt.Fprintf(stdout, "%d findings, %d errors\n", len(findings), errs)
		if errs > 0 {
			return fmt.Errorf("%d rules have errors", errs)
		}
		return nil
	}
	fmt.Fprintf(stderr, "gannet rules: unknown command %q\n%s", args[0], help)
	return errUsage
}

// Command gannet is Gannet's command-line tool: generate realistic AWS logs,
// run the pipeline on files or stdin, and (in later commands) manage the lake,
// the rules and the KCL consumer.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `gannet — a serverless security-log pipeline for AWS.

Usage:
  gannet <command> [flags] [args]

Commands:
  gen      write realistic, deterministic AWS logs of one format (optionally with attacks)
  run      decode, parse, enrich, detect and store logs from files, directories or stdin
  consume  run the pipeline as a KCL consumer of a Kinesis stream (leases in DynamoDB)
  lake     print Athena DDL for the Parquet lake (ddl), merge small files (compact)
  dlq      show dead letters, or replay them through the pipeline
  rules    run rule test cases (test) or check rules (lint)
  version  print the version

Run 'gannet <command> --help' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks an error whose message already explains the usage problem;
// errHelp ends a command after its help was printed on request.
var (
	errUsage = errors.New("usage")
	errHelp  = errors.New("help")
)

// runMain runs one command and returns the process exit code: 0 success,
// 1 failure, 2 usage error, 3 records left unacknowledged.
func runMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "gen":
		err = cmdGen(args[1:], stdout, stderr)
	case "run":
		err = cmdRun(ctx, args[1:], stdin, stdout, stderr)
	case "consume":
		err = cmdConsume(ctx, args[1:], stdout, stderr)
	case "lake":
		err = cmdLake(ctx, args[1:], stdout, stderr)
	case "dlq":
		err = cmdDLQ(ctx, args[1:], stdout, stderr)
	case "rules":
		err = cmdRules(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "gannet", version)
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "gannet: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var unacked *unackedError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &unacked):
		fmt.Fprintln(stderr, "gannet:", err)
		return 3
	default:
		fmt.Fprintln(stderr, "gannet:", err)
		return 1
	}
}

type unackedError struct{ n int64 }

func (e *unackedError) Error() string {
	return fmt.Sprintf("%d records were not stored durably (see the log for why); rerun to retry them", e.n)
}

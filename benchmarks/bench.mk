# benchmarks/bench.mk — included by the root Makefile.
# `make bench-report` runs the hot-path benchmarks (every format, batch 100/1,000/10,000,
# GOMAXPROCS 1 and 2, per-stage CPU breakdown), the Benthos v4.27.0 peer and the
# encoding/json+pqarrow baseline on one generated CloudTrail file, the ingest Lambda's peak
# RSS on a 10,000-entry batch, its cold start under aws-lambda-rie (installed first with
# `deploy/local/stack install lambda-rie`: pinned, built from the Go module proxy, nothing
# started) and the paper's §2.7 cost table from measured CPU time, and writes
# benchmarks/REPORT.md and benchmarks/REPORT.svg. Raw results stay in benchmarks/out/.
# When a step fails (no emulator, no peer build …) the run exits non-zero and leaves the
# report it could write in benchmarks/out/REPORT.partial.md, not over benchmarks/REPORT.md.
# Knobs: BENCH_TIME (go test -benchtime), BENCH_PEER_EVENTS, BENCH_COLDSTARTS (≥ 1),
# BENCH_HEAVY (entries of the paper's heavy request).
BENCH_TIME ?= 1s
BENCH_PEER_EVENTS ?= 200000
BENCH_COLDSTARTS ?= 5
BENCH_HEAVY ?= 300000

.PHONY: bench-report bench-quick

bench-report:
	$(GO) run ./benchmarks/cmd/benchrun report -benchtime $(BENCH_TIME) -peer-events $(BENCH_PEER_EVENTS) \
		-coldstarts $(BENCH_COLDSTARTS) -heavy $(BENCH_HEAVY) -out benchmarks/REPORT.md -work benchmarks/out

# bench-quick checks the machinery in a few minutes (figures not meant to be quoted).
bench-quick:
	$(MAKE) bench-report BENCH_TIME=3x BENCH_PEER_EVENTS=20000 BENCH_COLDSTARTS=1 BENCH_HEAVY=30000

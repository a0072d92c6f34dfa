# Makefile fragment for stream/reliability; the root Makefile does
# `-include stream/reliability/reliability.mk`.
#
#   make chaos     the full fault matrix (GANNET_CHAOS=full: 20 KCL SIGKILL seeds) and
#                  the hostile-input, TLS and credential tests, on the local stack (s3,
#                  elasticsearch; private kinesalite/dynalite started from the stack's
#                  installed packages), printing the accounting tables; `make test` runs
#                  the reduced matrix
#   make security  govulncheck and gosec, pinned (see .ci/security)
#   make soak      10 minutes of steady load through the KCL consumer (private kinesalite
#                  and dynalite from the stack's installed packages), RSS/heap/goroutines/
#                  open files sampled every 10 s, series written to benchmarks/soak.md
#
# Variables: CHAOS_GOTEST_FLAGS, SOAK_DURATION (default 10m), SOAK_RATE (records/s, default 500).

CHAOS_GOTEST_FLAGS ?= -count=1 -v -timeout 30m
SOAK_DURATION ?= 10m
SOAK_RATE ?= 500

.PHONY: chaos security soak

chaos:
	GANNET_CHAOS=full GANNET_STACK_COMPONENTS='s3 elasticsearch kinesis dynamodb' $(or $(STACK),deploy/local/stack) run -- \
		go test $(CHAOS_GOTEST_FLAGS) -run '^(TestIntegration|TestHostile|TestTLS|TestCredentials)' ./stream/reliability/...

security:
	bash .ci/security

soak:
	GANNET_SOAK=$(SOAK_DURATION) GANNET_SOAK_RATE=$(SOAK_RATE) go test -count=1 -v -timeout 40m -run '^TestSoak$$' ./stream/reliability/

# Makefile fragment for stream/reliability; the root Makefile does
# `-include stream/reliability/reliability.mk`.
#
#   make chaos     the full fault matrix (GANNET_CHAOS=full) and the hostile-input,
#                  TLS and credential tests, on the local stack (s3, elasticsearch),
#                  printing the accounting tables; `make test` runs the reduced matrix
#   make security  govulncheck and gosec, pinned (see .ci/security)
#   make soak      10 minutes of steady load through the pipeline, RSS/goroutines/open
#                  files sampled every 10 s, series written to benchmarks/soak.md
#
# Variables: CHAOS_GOTEST_FLAGS, SOAK_DURATION (default 10m).

CHAOS_GOTEST_FLAGS ?= -count=1 -v -timeout 30m
SOAK_DURATION ?= 10m

.PHONY: chaos security soak

chaos:
	GANNET_CHAOS=full GANNET_STACK_COMPONENTS='s3 elasticsearch' $(or $(STACK),deploy/local/stack) run -- \
		go test $(CHAOS_GOTEST_FLAGS) -run '^(TestIntegration|TestHostile|TestTLS|TestCredentials)' ./stream/reliability/...

security:
	bash .ci/security

soak:
	GANNET_SOAK=$(SOAK_DURATION) go test -count=1 -v -timeout 30m -run '^TestSoak$$' ./stream/reliability/

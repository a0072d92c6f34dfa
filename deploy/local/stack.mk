# Makefile fragment for Gannet's local stack; the root Makefile does `include deploy/local/stack.mk`.
#
#   make stack-up          install (first time) and start every local service
#   make stack-status      health, endpoint and version of each service
#   make stack-down        stop what stack-up started
#   make test-integration  stack up, `go test -run '^TestIntegration' ./...` with the endpoints exported,
#                          then stack down, also when the tests fail or are interrupted
#
# Variables: STACK (the script), INTEGRATION_GOTEST_FLAGS, INTEGRATION_PKGS, STACK_COMPONENTS (default all).

STACK ?= deploy/local/stack
INTEGRATION_GOTEST_FLAGS ?= -count=1 -timeout 30m -run '^TestIntegration'
INTEGRATION_PKGS ?= ./...
STACK_COMPONENTS ?=

.PHONY: stack-up stack-down stack-status test-integration

stack-up:
	$(STACK) up $(STACK_COMPONENTS)

stack-down:
	$(STACK) down

stack-status:
	$(STACK) status

# `stack run` brings the stack up, exports GANNET_* and always brings it down afterwards.
test-integration:
	GANNET_STACK_COMPONENTS='$(STACK_COMPONENTS)' $(STACK) run -- go test $(INTEGRATION_GOTEST_FLAGS) $(INTEGRATION_PKGS)

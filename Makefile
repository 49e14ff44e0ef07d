# Make targets of the Functions app. `make dev` runs the local stack,
# `make test` runs every test; both install what they need.
SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 4s
NPM_DIR := e2e
export GOFLAGS ?= -buildvcs=false

.PHONY: all build handler emulator test test-go fuzz e2e deps bench soak run dev publish azurite doctor vet clean

all: build

## build: the handler (./handler, what host.json runs) and the emulator (bin/signalr-emulator)
build: handler emulator

# The version and commit `handler version` prints.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION_LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

handler:
	$(GO) build -trimpath -ldflags="$(VERSION_LDFLAGS)" -o handler ./cmd/handler

emulator:
	$(GO) build -trimpath -o bin/signalr-emulator ./cmd/signalr-emulator

## publish: a static linux/amd64 handler for `func azure functionapp publish`
publish:
	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w $(VERSION_LDFLAGS)" -o handler ./cmd/handler

## test: vet, unit and integration tests, short fuzzing, end-to-end tests with the real JS client
test: deps build vet test-go fuzz e2e

# staticcheck, pinned: the binary scripts/install-deps.sh installs when it is
# that version, else `go run` of the pinned module (works on a fresh machine).
STATICCHECK_VERSION := 0.8.2
GOBIN_DIR := $(shell $(GO) env GOBIN 2>/dev/null || true)
GOBIN_DIR := $(if $(GOBIN_DIR),$(GOBIN_DIR),$(shell $(GO) env GOPATH 2>/dev/null)/bin)

## vet: gofmt, go vet and staticcheck (pinned), all clean
vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	@sc="$(GOBIN_DIR)/staticcheck"; \
	  if ! "$$sc" -version 2>/dev/null | grep -qF "($(STATICCHECK_VERSION))"; then sc="$(GO) run honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION)"; fi; \
	  echo "$$sc ./..."; $$sc ./...

test-go: build
	$(GO) test -race -count=1 ./...

## fuzz: every fuzz target for FUZZTIME (seed corpora run in test-go too)
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

e2e: deps build
	cd $(NPM_DIR) && node --test --test-concurrency=1

## deps: Go modules, npm packages (pinned @microsoft/signalr, playwright-core) and Debian's chromium
deps:
	@scripts/install-deps.sh

## bench: throughput and latency ratios against baselines measured in the same run
bench: build
	@scripts/bench.sh

## soak: the longer slow-client and mixed-load runs against the built handler (loopback, SOAK_DURATION each, default 30s)
SOAK_DURATION ?= 30s
soak: build
	SOAK=1 SOAK_DURATION=$(SOAK_DURATION) $(GO) test -count=1 -run 'TestSoak' -v -timeout 15m ./cmd/handler

## run: the handler alone, against AzureSignalRConnectionString from the environment
run: handler
	./handler

## dev: the local stack: emulator + handler + chat page at http://localhost:7071/chat/
dev: build
	@scripts/install-deps.sh --no-browser
	@scripts/dev.sh

## azurite: local storage for `func start` (needed only for non-HTTP triggers), data in .azurite/, no telemetry
azurite:
	npx --yes azurite@3 --silent --location "$(CURDIR)/.azurite" --skipApiVersionCheck --disableTelemetry

## doctor: diagnose settings, app layout, endpoints, token size, CORS
doctor: handler
	./handler doctor

clean:
	rm -rf handler bin .azurite

# kubectl safe-rollout. The two set-up commands: `make demo` and `make test`.
SHELL      := /bin/bash
BIN        := bin/kubectl-safe_rollout
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE       ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS    := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
GO_SOURCES := $(shell find cli cmd rollout verify -name '*.go' -not -name '*_test.go') go.mod go.sum

include lab/lab.mk
include release.mk

.PHONY: build test unit fuzz fuzz-short e2e demo soak clean

build: $(BIN)

$(BIN): $(GO_SOURCES)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/kubectl-safe-rollout

# Unit tests (fakes, golden files), a short fuzz run, the release files' checks, then the
# end-to-end suite on the lab.
test: unit fuzz-short release-check manifest-test e2e

unit:
	go vet ./...
	go test -race ./...
	cd examples/drain-app && go vet ./... && go test ./...

# Fuzz targets (package:Target) for hostile input: manifests, preStop shell, flags, --probe URLs.
# A failing input is written to the package's testdata/fuzz/ and replays in every go test.
FUZZ_TARGETS   := verify:FuzzManifestsAdd verify:FuzzScanExec cli:FuzzDurationFlags \
                  cli:FuzzBudgetFlags verify/traffic:FuzzParseTarget
FUZZTIME       ?= 5m
FUZZTIME_SHORT ?= 10s
FUZZ_BIN       := $(CURDIR)/.tools/fuzz

# Each target for FUZZTIME (make fuzz FUZZTIME=1h). What go test -fuzz does, with one
# instrumented test binary per package: linking cli's takes longer than fuzzing it.
fuzz:
	@set -e; mkdir -p $(FUZZ_BIN); \
	for pkg in $(sort $(foreach t,$(FUZZ_TARGETS),$(firstword $(subst :, ,$(t))))); do \
	  bin=$(FUZZ_BIN)/$$(echo $$pkg | tr / -).test; \
	  corpus=$$(go env GOCACHE)/fuzz/$$(go list ./$$pkg); \
	  go test -c -fuzz=. -o $$bin ./$$pkg; \
	  for t in $(FUZZ_TARGETS); do \
	    [ "$${t%%:*}" = "$$pkg" ] || continue; \
	    echo "fuzz ./$$pkg $${t##*:} for $(FUZZTIME)"; \
	    (cd $$pkg && $$bin -test.run='^$$' -test.fuzz="^$${t##*:}$$" -test.fuzztime=$(FUZZTIME) \
	      -test.fuzzcachedir=$$corpus -test.parallel=$$(nproc)); \
	  done; \
	done

# Each target briefly, in make test.
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_SHORT)

# Brings the lab up if it is not running and leaves it as it found it.
e2e: build
	scripts/e2e.sh

# Brings the lab up, deploys the examples and shows the plugin's main job under load.
demo: build
	scripts/demo.sh

# A 30-minute guard through three back-to-back rollouts: RSS and goroutines sampled, figures
# printed (SOAK_MINUTES to change). Not part of make test. Needs make lab-up.
soak: build
	scripts/soak.sh

clean:
	rm -rf bin dist

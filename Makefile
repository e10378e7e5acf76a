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

.PHONY: build test unit fuzz fuzz-short e2e demo soak bench clean browser

build: $(BIN)

$(BIN): $(GO_SOURCES)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/kubectl-safe-rollout

# The lab's packages and build with the plugin's beside them; then the end-to-end suite on the
# lab with, beside it, the unit tests (fakes, golden files, -race), a short fuzz run and the
# release files' checks. scripts/test.sh says why the overlaps.
test:
	scripts/test.sh

# Headless Chromium for the HTML report's browser check (test/e2e/html_test.go), installed when missing.
browser:
	scripts/browser.sh

# vet with -race shares the -race unit tests' compile of the dependencies (client-go's fake
# clientsets are among the largest); the drain-app's shares its image's (CGO_ENABLED=0, -trimpath).
unit:
	go vet -race ./...
	go test -race ./...
	cd examples/drain-app && CGO_ENABLED=0 go vet -trimpath ./... && CGO_ENABLED=0 go test -trimpath ./...

# Fuzz targets (package:Target) for hostile input: manifests, preStop shell, --probe URLs, flags.
# A failing input is written to the package's testdata/fuzz/ and replays in every go test.
FUZZ_TARGETS       := verify:FuzzManifestsAdd verify:FuzzScanExec verify/traffic:FuzzParseTarget \
                      cli:FuzzDurationFlags cli:FuzzBudgetFlags
# make test leaves out cli's: fuzzing instruments a test binary's every dependency, and cli's
# (client-go, cli-runtime) add ~9 CPU-minutes to a cold build, to verify's and traffic's ~4.
# Their seeds (and the inputs they once failed on) still run in every go test.
FUZZ_SHORT_TARGETS ?= $(filter-out cli:%,$(FUZZ_TARGETS))
FUZZTIME           ?= 5m
FUZZTIME_SHORT     ?= 10s
FUZZ_BIN           := $(CURDIR)/.tools/fuzz
FUZZ_RUN           ?= $(FUZZ_TARGETS)

# Each target for FUZZTIME (make fuzz FUZZTIME=1h). What go test -fuzz does, with one
# instrumented test binary per package: linking cli's takes longer than fuzzing it.
# Go 1.26's coordinator can fail a run at the deadline with a bare "context deadline
# exceeded" and no failing input (go.dev/issue/75804, fixed in Go 1.27): that is not a
# finding. Any run that writes a failing input fails.
fuzz:
	@set -eo pipefail; mkdir -p $(FUZZ_BIN); \
	for pkg in $(sort $(foreach t,$(FUZZ_RUN),$(firstword $(subst :, ,$(t))))); do \
	  bin=$(FUZZ_BIN)/$$(echo $$pkg | tr / -).test; \
	  corpus=$$(go env GOCACHE)/fuzz/$$(go list ./$$pkg); \
	  go test -c -fuzz=. -o $$bin ./$$pkg; \
	  for t in $(FUZZ_RUN); do \
	    [ "$${t%%:*}" = "$$pkg" ] || continue; \
	    target=$${t##*:}; log=$(FUZZ_BIN)/$$target.log; \
	    echo "fuzz ./$$pkg $$target for $(FUZZTIME)"; \
	    (cd $$pkg && $$bin -test.run='^$$' -test.fuzz="^$$target$$" -test.fuzztime=$(FUZZTIME) \
	      -test.fuzzcachedir=$$corpus -test.parallel=$$(nproc)) 2>&1 | tee $$log \
	    || { grep -qx '    context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log \
	         && echo "fuzz ./$$pkg $$target: go.dev/issue/75804 (deadline race, no failing input): not a finding"; }; \
	  done; \
	done

# FUZZ_SHORT_TARGETS briefly, in make test; all of them: make fuzz-short FUZZ_SHORT_TARGETS='$(FUZZ_TARGETS)'
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_SHORT) FUZZ_RUN="$(FUZZ_SHORT_TARGETS)"

# Brings the lab up if it is not running and leaves it as it found it.
e2e: build browser
	scripts/e2e.sh

# Brings the lab up, deploys the examples and shows the plugin's main job under load.
demo: build
	scripts/demo.sh

# A 30-minute guard through three back-to-back rollouts: RSS and goroutines sampled, figures
# printed (SOAK_MINUTES to change). Not part of make test. Needs make lab-up.
soak: build
	scripts/soak.sh

# Figures beside the alternatives (docs/performance.md): detection latency, API requests by
# client, a 500-replica rollout on kwok nodes, preflight at 1k-21k objects, start-up, Go
# benchmarks. Not part of make test. Needs make lab-up; about 15 minutes.
bench: build
	scripts/bench.sh

clean:
	rm -rf bin dist

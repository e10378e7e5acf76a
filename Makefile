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

.PHONY: build test unit e2e demo clean

build: $(BIN)

$(BIN): $(GO_SOURCES)
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/kubectl-safe-rollout

# Unit tests (fakes, golden files), the release files' checks, then the end-to-end suite on the lab.
test: unit release-check manifest-test e2e

unit:
	go vet ./...
	go test -race ./...
	cd examples/drain-app && go vet ./... && go test ./...

# Brings the lab up if it is not running and leaves it as it found it.
e2e: build
	scripts/e2e.sh

# Brings the lab up, deploys the examples and shows the plugin's main job under load.
demo: build
	scripts/demo.sh

clean:
	rm -rf bin dist

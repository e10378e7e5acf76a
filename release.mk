# Release: GoReleaser snapshot, krew manifests, a real krew install. Included by the root
# Makefile; see docs/release.md.
#
#   make release-check        goreleaser check (errors and deprecated keys fail)
#   make release-snapshot     the six archives, checksums.txt and the krew manifest
#                             dist/krew/safe-rollout.yaml in dist/, offline; touches nothing
#                             tracked (plugin.yaml is the last tagged release's, see below)
#   make release-manifest     after `goreleaser release` of a tag: copies that release's
#                             dist/krew/safe-rollout.yaml to plugin.yaml (refuses a snapshot)
#   make manifest-test        builds a snapshot of the host's platform only in dist/manifest-test/
#                             (never touching plugin.yaml or dist/), then validates plugin.yaml,
#                             krew/.krew.yaml and that snapshot's manifest against its archives
#   make krew-install-test    installs the snapshot archives with krew v0.4.3 in a sandboxed
#                             KREW_ROOT and runs `kubectl safe-rollout version` through kubectl
#
# Reproducible archives: a binary records the commit, its date (ldflags, mod_timestamp, the
# archives' mtimes) and, through Go's VCS stamping, whether the tree was dirty (the module
# version gets "+dirty", vcs.modified=true). Two snapshots of one clean commit have the same
# sha256s; a dirty tree gives other ones. Snapshots used to rewrite the tracked plugin.yaml,
# which made the tree dirty and so every later snapshot's six checksums different.
#
# The tools are pinned and installed from the Go module proxy into .tools/ (gitignored).

# do not steal the including Makefile's default goal (restored at the end of this file)
RELEASE_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

TOOLS_DIR          := $(CURDIR)/.tools
GORELEASER_VERSION := v2.15.1
KREW_VERSION       := v0.4.3
GORELEASER         := $(TOOLS_DIR)/goreleaser-$(GORELEASER_VERSION)/goreleaser
KREW_DIR           := $(TOOLS_DIR)/krew-$(KREW_VERSION)
KREW               := $(KREW_DIR)/kubectl-krew
# krew-index's CI validator (structure, selectors, overlaps); installs are done by krew/install-test.sh
KREW_VALIDATE      := $(KREW_DIR)/validate-krew-manifest
# The lab's kubectl (built from source by make lab-build); a fresh machine may have no other.
RELEASE_KUBECTL    := $(CURDIR)/.lab/bin/kubectl

.PHONY: release-check release-snapshot release-manifest manifest-test krew-install-test tools goreleaser-tool

tools: $(GORELEASER) $(KREW) $(KREW_VALIDATE)

# Under a lock: make test starts this install early (scripts/test.sh) and its release-check
# waits for that one instead of compiling GoReleaser a second time beside it.
$(GORELEASER):
	@mkdir -p $(@D)
	flock $(@D).lock sh -c '[ -x $@ ] || GOBIN=$(@D) GOTOOLCHAIN=local go install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)'

goreleaser-tool: $(GORELEASER)

# krew finds its own commands as a kubectl plugin: the binary must be named kubectl-krew.
$(KREW):
	@mkdir -p $(@D)
	GOBIN=$(@D) GOTOOLCHAIN=local go install sigs.k8s.io/krew/cmd/krew@$(KREW_VERSION)
	mv $(@D)/krew $@

$(KREW_VALIDATE):
	@mkdir -p $(@D)
	GOBIN=$(@D) GOTOOLCHAIN=local go install sigs.k8s.io/krew/cmd/validate-krew-manifest@$(KREW_VERSION)

$(RELEASE_KUBECTL):
	$(MAKE) lab-build

release-check: $(GORELEASER)
	$(GORELEASER) check

# Modules come from the proxy first (the only network use); GoReleaser itself then runs
# with GOPROXY=off, no forge token and nothing published (--snapshot). A clone without a
# remote would make GoReleaser drop all git information (commit "none", date 0001-01-01):
# the remote URL is given through the environment (git never contacts it here).
RELEASE_GIT_REMOTE := https://github.com/safe-rollout/kubectl-safe-rollout.git

GORELEASER_OFFLINE = env -u GITHUB_TOKEN -u GITLAB_TOKEN -u GITEA_TOKEN GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
	$(if $(shell git remote 2>/dev/null),,GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=$(RELEASE_GIT_REMOTE)) \
	$(GORELEASER)

release-snapshot: $(GORELEASER)
	@if [ -n "$$(git status --porcelain 2>/dev/null)" ]; then \
	  echo "release-snapshot: the tree is dirty: the binaries record it (+dirty), their sha256s are not the commit's" >&2; fi
	go mod download
	$(GORELEASER_OFFLINE) release --snapshot --clean
	@ls -l dist/*.tar.gz dist/*.zip dist/checksums.txt dist/krew/safe-rollout.yaml

# plugin.yaml is the manifest of the latest tagged release, as GoReleaser wrote it for that
# release (the same file the release publishes as safe-rollout.yaml). Run after
# `goreleaser release --clean` of the tag, then commit plugin.yaml.
release-manifest:
	@version=$$(sed -n 's/^  version: //p' dist/krew/safe-rollout.yaml); \
	case "$$version" in \
	  v[0-9]*.[0-9]*.[0-9]*-*|"") echo "release-manifest: dist/krew/safe-rollout.yaml is '$$version', not a tagged release: plugin.yaml unchanged" >&2; exit 1;; \
	esac; \
	{ echo "# krew manifest of kubectl safe-rollout $$version, the latest tagged release,"; \
	  echo '# written by make release-manifest from that release'"'"'s dist/krew/safe-rollout.yaml (GoReleaser krews:).'; \
	  grep -v '^# This file was generated by GoReleaser' dist/krew/safe-rollout.yaml; } > plugin.yaml
	@echo "plugin.yaml: $$(sed -n 's/^  version: //p' plugin.yaml)"

# manifest-test's snapshot: .goreleaser.yaml narrowed to the host's platform, into its own
# directory. Its one build is the build make build (and so the e2e suite) needs anyway; the
# six platforms would cross-compile everything five more times (tens of minutes cold).
MANIFEST_TEST_DIST   := dist/manifest-test
MANIFEST_TEST_OS     = $(shell go env GOOS)
MANIFEST_TEST_ARCH   = $(shell go env GOARCH)
MANIFEST_TEST_CONFIG := $(TOOLS_DIR)/manifest-test.goreleaser.yaml

manifest-test: $(GORELEASER)
	@mkdir -p $(TOOLS_DIR)
	{ sed -e 's/^    goos: \[linux, darwin, windows\]$$/    goos: [$(MANIFEST_TEST_OS)]/' \
	      -e 's/^    goarch: \[amd64, arm64\]$$/    goarch: [$(MANIFEST_TEST_ARCH)]/' .goreleaser.yaml; \
	  echo 'dist: $(MANIFEST_TEST_DIST)'; } > $(MANIFEST_TEST_CONFIG)
	@grep -qx '    goos: \[$(MANIFEST_TEST_OS)\]' $(MANIFEST_TEST_CONFIG) && grep -qx '    goarch: \[$(MANIFEST_TEST_ARCH)\]' $(MANIFEST_TEST_CONFIG) \
		|| { echo "release.mk: .goreleaser.yaml's builds goos/goarch lines changed; update manifest-test's narrowing" >&2; exit 1; }
	go mod download
	$(GORELEASER_OFFLINE) release --snapshot --clean --config $(MANIFEST_TEST_CONFIG)
	cd test/manifest && go vet ./... && \
		MANIFEST_TEST_DIST=$(CURDIR)/$(MANIFEST_TEST_DIST) MANIFEST_TEST_PLATFORMS=$(MANIFEST_TEST_OS)/$(MANIFEST_TEST_ARCH) go test -count=1 ./...

krew-install-test: release-snapshot $(KREW) $(KREW_VALIDATE) $(RELEASE_KUBECTL)
	$(KREW_VALIDATE) -manifest dist/krew/safe-rollout.yaml -skip-install
	KUBECTL=$(RELEASE_KUBECTL) KREW_BIN_DIR=$(KREW_DIR) krew/install-test.sh dist/krew/safe-rollout.yaml dist

.DEFAULT_GOAL := $(RELEASE_SAVED_DEFAULT_GOAL)

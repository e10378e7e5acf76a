# Lab: a real single-node Kubernetes v1.34.4 on this machine (Linux, root). Included by the root
# Makefile; standalone: make -f lab/lab.mk lab-up. Everything lives under $(LAB_DIR).
#
#   make lab-build          build .lab/bin/k8s (+ kubectl symlink) and the image tarballs (no root needed)
#   make lab-up             install missing apt packages, build, start the cluster (idempotent)
#   make lab-down           stop everything and remove every trace from the host (state kept)
#   make lab-down PURGE=1   ... and delete cluster state (etcd, containerd, pki, logs); .lab/bin and
#                           .lab/images (build outputs) are kept so the next lab-up is fast
#   make lab-kwok           build .lab/bin/kwok (simulated nodes, for make bench; lab/kwok.sh runs it)
#   make lab-status         what is running, node/pods summary
#   make lab-restart-apiserver [DOWN=5]  stop kube-apiserver, keep it down DOWN seconds, start it again
#
#   kubectl: .lab/bin/kubectl --kubeconfig .lab/kubeconfig get nodes

# do not steal the including Makefile's default goal (restored at the end of this file)
LAB_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

LAB_DIR   := $(CURDIR)/.lab
LAB_SRC   := $(CURDIR)/lab
LAB_BIN   := $(LAB_DIR)/bin
LAB_IMG   := $(LAB_DIR)/images
LAB_K8S   := $(LAB_BIN)/k8s
LAB_IMGTOOL := $(LAB_BIN)/imgtool

# drain-app image source: examples/drain-app when it has Go files, else the lab placeholder app.
LAB_DRAIN_APP_SRC ?= $(if $(wildcard $(CURDIR)/examples/drain-app/*.go),$(CURDIR)/examples/drain-app,$(LAB_SRC)/images/placeholder)

LAB_K8S_DEPS := $(wildcard $(LAB_SRC)/k8s/*.go) $(LAB_SRC)/k8s/go.mod $(LAB_SRC)/k8s/go.sum $(LAB_SRC)/k8s/build.sh
LAB_IMGMOD   := $(LAB_SRC)/images/go.mod $(LAB_SRC)/images/go.sum $(LAB_SRC)/images/build.sh
LAB_DRAIN_APP_DEPS = $(shell find $(LAB_DRAIN_APP_SRC) -type f -not -path '*/.git/*' 2>/dev/null)

.PHONY: lab-build lab-prepare lab-kwok lab-up lab-down lab-status lab-force lab-restart-apiserver

# A third-party app nobody here wrote (podinfo 6.9.2: on SIGTERM it fails /readyz, waits 3s,
# then shuts its servers down gracefully), built from the module proxy at a pinned commit.
LAB_PODINFO := github.com/stefanprodan/podinfo/cmd/podinfo@v1.8.1-0.20250910200901-e86405a8674e

lab-build: $(LAB_K8S) $(LAB_IMG)/pause.tar $(LAB_IMG)/drain-app.tar $(LAB_IMG)/podinfo.tar $(LAB_IMG)/kubectl-safe-rollout.tar

$(LAB_K8S): $(LAB_K8S_DEPS)
	$(LAB_SRC)/k8s/build.sh $@

$(LAB_IMGTOOL): $(wildcard $(LAB_SRC)/images/imgtool/*.go) $(LAB_IMGMOD)
	$(LAB_SRC)/images/build.sh imgtool $@

$(LAB_IMG)/pause.tar: $(wildcard $(LAB_SRC)/images/pause/*.go) $(LAB_IMGTOOL) $(LAB_IMGMOD)
	$(LAB_SRC)/images/build.sh image $(LAB_IMGTOOL) $(LAB_SRC)/images/pause safe-rollout.local/pause:3.10 $@

# remembers which source directory the image was built from (rebuild when it switches)
$(LAB_IMG)/drain-app.src: lab-force
	@mkdir -p $(@D); echo '$(LAB_DRAIN_APP_SRC)' | cmp -s - $@ || echo '$(LAB_DRAIN_APP_SRC)' > $@

$(LAB_IMG)/drain-app.tar: $(LAB_IMG)/drain-app.src $(LAB_DRAIN_APP_DEPS) $(LAB_IMGTOOL) $(LAB_IMGMOD)
	$(LAB_SRC)/images/build.sh image $(LAB_IMGTOOL) $(LAB_DRAIN_APP_SRC) safe-rollout.local/drain-app:dev $@

$(LAB_IMG)/podinfo.tar: $(LAB_IMGTOOL) $(LAB_IMGMOD) $(LAB_SRC)/lab.mk
	$(LAB_SRC)/images/build.sh module $(LAB_IMGTOOL) $(LAB_PODINFO) safe-rollout.local/podinfo:6.9.2 $@

# The plugin itself as an image: a release step's hook Job runs it in the cluster
# (examples/release-step/hook-job.yaml, docs/release-steps.md).
LAB_PLUGIN_DEPS = $(shell find $(CURDIR)/cmd $(CURDIR)/cli $(CURDIR)/rollout $(CURDIR)/verify -name '*.go' -not -name '*_test.go' 2>/dev/null) $(CURDIR)/go.mod $(CURDIR)/go.sum
$(LAB_IMG)/kubectl-safe-rollout.tar: $(LAB_PLUGIN_DEPS) $(LAB_IMGTOOL) $(LAB_IMGMOD)
	$(LAB_SRC)/images/build.sh image $(LAB_IMGTOOL) $(CURDIR)/cmd/kubectl-safe-rollout safe-rollout.local/kubectl-safe-rollout:dev $@

# kwok (simulated nodes, for make bench): not part of lab-build, the lab runs without it.
LAB_KWOK := $(LAB_BIN)/kwok
lab-kwok: $(LAB_KWOK)
$(LAB_KWOK): $(LAB_SRC)/kwok/go.mod $(LAB_SRC)/kwok/go.sum
	cd $(LAB_SRC)/kwok && go build -trimpath -ldflags "-s -w" -o $@.tmp sigs.k8s.io/kwok/cmd/kwok && mv -f $@.tmp $@

lab-up:
	@$(LAB_SRC)/up.sh $(LAB_DIR)

# What lab-up installs and builds, without starting anything (make test runs it beside the
# unit tests).
lab-prepare:
	@$(LAB_SRC)/install.sh $(LAB_DIR)
	@$(MAKE) --no-print-directory lab-build

lab-down:
	@$(LAB_SRC)/down.sh $(LAB_DIR) $(if $(filter-out 0,$(PURGE)),--purge)

lab-status:
	@$(LAB_SRC)/status.sh $(LAB_DIR)

DOWN ?= 5
lab-restart-apiserver:
	@$(LAB_SRC)/restart-apiserver.sh $(LAB_DIR) $(DOWN)

.DEFAULT_GOAL := $(LAB_SAVED_DEFAULT_GOAL)

# KubeStellar build, test and release entry points. `make help` lists the targets.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

GO ?= go
PKG := github.com/kubestellar/kubestellar
BIN_DIR := $(CURDIR)/bin

# Tools and the upstream binaries built from Go modules are cached outside the clone, one
# directory per version, so a second clone or run re-uses them and a version bump rebuilds.
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kubestellar
KUBE_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" && $$2 ~ /^v/ { print $$2; exit }' hack/tools/go.mod)
ETCD_VERSION := $(shell awk '$$1 == "go.etcd.io/etcd/server/v3" && $$2 ~ /^v/ { print $$2; exit }' hack/tools/go.mod)
# The directories are keyed on the tools module's content, not on file times, so a fresh
# clone re-uses what an earlier one built.
TOOLS_HASH := $(shell cat hack/tools/go.mod hack/tools/go.sum | sha256sum | cut -c1-10)
KUBE_BIN_DIR := $(CACHE_DIR)/kubernetes-$(KUBE_VERSION)-$(TOOLS_HASH)
ETCD_BIN_DIR := $(CACHE_DIR)/etcd-$(ETCD_VERSION)-$(TOOLS_HASH)
CONTROLLER_GEN_VERSION := v0.21.0
GOLANGCI_LINT_VERSION := v2.15.0
CONTROLLER_GEN := $(CACHE_DIR)/controller-gen-$(CONTROLLER_GEN_VERSION)/controller-gen
GOLANGCI_LINT := $(CACHE_DIR)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint

# Build information stamped into every binary.
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || echo v0.0.0-dev)
GIT_COMMIT ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
GIT_TREE_STATE ?= $(shell if ! git rev-parse HEAD >/dev/null 2>&1; then echo unknown; elif [ -z "$$(git status --porcelain 2>/dev/null)" ]; then echo clean; else echo dirty; fi)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w \
	-X $(PKG)/pkg/version.gitVersion=$(VERSION) \
	-X $(PKG)/pkg/version.gitCommit=$(GIT_COMMIT) \
	-X $(PKG)/pkg/version.gitTreeState=$(GIT_TREE_STATE) \
	-X $(PKG)/pkg/version.buildDate=$(BUILD_DATE)
KUBE_LDFLAGS := -s -w \
	-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(patsubst v%,%,$(KUBE_VERSION)))) \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))) \
	-X k8s.io/component-base/version.gitTreeState=clean

TEST_ASSETS := $(KUBE_BIN_DIR):$(ETCD_BIN_DIR)
GO_TEST_FLAGS ?= -timeout 40m
GO_TEST_PACKAGES ?= ./...
BENCH_PACKAGES ?= ./test/bench/...
DIST_PLATFORMS ?= linux/amd64 linux/arm64
DIST_DIR ?= $(CURDIR)/_output/dist

##@ Everyday

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN { FS = ":.*##" } /^[a-zA-Z_.-]+:.*##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: build
build: $(BIN_DIR)/kube-apiserver $(BIN_DIR)/kube-controller-manager ## Build every command into bin/, with the kube-apiserver and kube-controller-manager the space server runs.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_DIR)/ ./cmd/...

$(BIN_DIR)/kube-apiserver $(BIN_DIR)/kube-controller-manager: $(BIN_DIR)/%: $(KUBE_BIN_DIR)/%
	mkdir -p $(BIN_DIR)
	cp -f $< $@

.PHONY: run
run: build ## Build, then `kubestellar start`: the core as background processes on the embedded default (state in .kubestellar/, logs in kubestellar-logs/).
	$(BIN_DIR)/kubestellar start

.PHONY: stop
stop: ## `kubestellar stop`: stop what `make run` started.
	$(BIN_DIR)/kubestellar stop

.PHONY: test
test: verify lint test-go ## Everything CI checks: generated files, formatting, lint, unit and integration tests.

.PHONY: test-go
test-go: testbin ## Unit and integration tests only (real kube-apiserver and etcd).
	KUBESTELLAR_TEST_ASSETS=$(TEST_ASSETS) $(GO) test $(GO_TEST_FLAGS) $(GO_TEST_PACKAGES)

.PHONY: bench
bench: testbin ## Run the benchmarks against real servers and print their tables.
	KUBESTELLAR_TEST_ASSETS=$(TEST_ASSETS) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 90m $(BENCH_PACKAGES)

##@ Releases

.PHONY: dist
dist: ## Release archives for DIST_PLATFORMS (default linux/amd64 linux/arm64) in DIST_DIR (_output/dist), the stamped bootstrap script and SHA256SUMS.
	VERSION='$(VERSION)' LDFLAGS='$(LDFLAGS)' KUBE_LDFLAGS='$(KUBE_LDFLAGS)' KUBE_BIN_DIR='$(KUBE_BIN_DIR)' \
		hack/dist.sh '$(DIST_DIR)' $(DIST_PLATFORMS)

##@ Code generation and checks

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deep-copy code and CRD manifests.
	hack/generate.sh $(CONTROLLER_GEN) .

.PHONY: verify
verify: $(CONTROLLER_GEN) ## Fail when generated files are stale, code is unformatted or go.mod is untidy.
	hack/verify.sh $(CONTROLLER_GEN)

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run go vet, golangci-lint and shellcheck.
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...
	hack/ensure-packages.sh shellcheck
	shellcheck .ci/run hack/*.sh bootstrap/*.sh

##@ Upstream binaries and tools (built from Go modules, cached in CACHE_DIR)

.PHONY: testbin
testbin: $(KUBE_BIN_DIR)/kube-apiserver $(KUBE_BIN_DIR)/kube-controller-manager $(KUBE_BIN_DIR)/kubectl $(ETCD_BIN_DIR)/etcd ## Build kube-apiserver, kube-controller-manager, kubectl and etcd for tests.

.PHONY: print-test-assets
print-test-assets: ## Print the KUBESTELLAR_TEST_ASSETS value for running go test by hand.
	@echo $(TEST_ASSETS)

$(KUBE_BIN_DIR)/%:
	@echo "Building $* $(KUBE_VERSION) from k8s.io/kubernetes (first time: several minutes)"
	cd hack/tools && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@.tmp k8s.io/kubernetes/cmd/$*
	mv $@.tmp $@

$(ETCD_BIN_DIR)/etcd:
	@echo "Building etcd $(ETCD_VERSION) from go.etcd.io/etcd/server/v3"
	cd hack/tools && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $@.tmp go.etcd.io/etcd/server/v3
	mv $@.tmp $@

$(CONTROLLER_GEN):
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

$(GOLANGCI_LINT):
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

##@ Later work

.PHONY: quickstart
quickstart: build testbin ## The florin/guilder example as bare processes, step by step; KEEP=true leaves it running.
	KUBECTL=$(KUBE_BIN_DIR)/kubectl hack/quickstart.sh

.PHONY: e2e images push
e2e images push: ## Not available yet in this version.
	@echo "make $@ is not available yet in this version of KubeStellar" >&2; exit 1

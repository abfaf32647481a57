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
# Traefik, the ingress of the local single-node cluster (hack/cluster), has its own tools
# module: its dependencies would otherwise move those of the Kubernetes binaries.
TRAEFIK_VERSION := $(shell awk '$$1 == "github.com/traefik/traefik/v3" && $$2 ~ /^v/ { print $$2; exit }' hack/traefik/go.mod)
TRAEFIK_HASH := $(shell cat hack/traefik/go.mod hack/traefik/go.sum | sha256sum | cut -c1-10)
TRAEFIK := $(CACHE_DIR)/traefik-$(TRAEFIK_VERSION)-$(TRAEFIK_HASH)/traefik
# CoreDNS, the local cluster's DNS, likewise (with only the plugins it uses: hack/coredns).
COREDNS_VERSION := $(shell awk '{ sub(/^require[ \t]+/, "") } $$1 == "github.com/coredns/coredns" && $$2 ~ /^v/ { print $$2; exit }' hack/coredns/go.mod)
COREDNS_HASH := $(shell cat hack/coredns/go.mod hack/coredns/go.sum | sha256sum | cut -c1-10)
COREDNS := $(CACHE_DIR)/coredns-$(COREDNS_VERSION)-$(COREDNS_HASH)/coredns
CONTROLLER_GEN_VERSION := v0.21.0
GOLANGCI_LINT_VERSION := v2.15.0
CONTROLLER_GEN := $(CACHE_DIR)/controller-gen-$(CONTROLLER_GEN_VERSION)/controller-gen
GOLANGCI_LINT := $(CACHE_DIR)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
# The helm CLI is built from the same Helm module the binaries embed (a tool of go.mod), so
# the CLI and the SDK never disagree.
HELM_VERSION := $(shell awk '$$1 == "helm.sh/helm/v3" && $$2 ~ /^v/ { print $$2; exit }' go.mod)
HELM := $(CACHE_DIR)/helm-$(HELM_VERSION)/helm
CHART_DIR := charts/kubestellar

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
# The unit and library packages, and the suites that run the controllers and the syncer in
# the test process, run under the race detector; the suites whose servers and controllers
# run as separate processes gain nothing from it and run without.
GO_TEST_RACE_PACKAGES ?= ./pkg/... ./cmd/... ./examples/... ./test/integration/edge ./test/integration/controllers
GO_TEST_PACKAGES ?= $(shell $(GO) list ./... | grep -v -e '/pkg/' -e '/cmd/' -e '/examples/' -e '/test/integration/edge$$' -e '/test/integration/controllers$$')
BENCH_PACKAGES ?= ./test/bench/...
DIST_PLATFORMS ?= linux/amd64 linux/arm64
DIST_DIR ?= $(CURDIR)/_output/dist

##@ Everyday

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN { FS = ":.*##" } /^[a-zA-Z0-9_.%-]+:.*##/ { printf "  %-16s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: build
build: $(BIN_DIR)/kube-apiserver $(BIN_DIR)/kube-controller-manager $(BIN_DIR)/kubectl ## Build every command into bin/, with the kube-apiserver and kube-controller-manager the space server runs and the kubectl of the same Kubernetes release.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_DIR)/ ./cmd/...

# kubectl comes from the same Kubernetes module as kube-apiserver, so a fresh machine has the
# client the README's commands use (kubectl kubestellar ... runs bin/kubectl-kubestellar).
$(BIN_DIR)/kube-apiserver $(BIN_DIR)/kube-controller-manager $(BIN_DIR)/kubectl: $(BIN_DIR)/%: $(KUBE_BIN_DIR)/%
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
test-go: testbin ## Unit and integration tests only (real kube-apiserver and etcd); GO_TEST_RACE_PACKAGES under -race.
	KUBESTELLAR_TEST_ASSETS=$(TEST_ASSETS) $(GO) test -race $(GO_TEST_FLAGS) $(GO_TEST_RACE_PACKAGES)
	KUBESTELLAR_TEST_ASSETS=$(TEST_ASSETS) $(GO) test $(GO_TEST_FLAGS) $(GO_TEST_PACKAGES)

.PHONY: bench
# How many WMWs BenchmarkManySpaces makes: every idle space costs about 20 millicores, so more
# than about 60 saturate a 2-core machine before they are all Ready.
BENCH_SPACES ?= 50
# How many WECs BenchmarkManyWECs registers at its largest (it runs 100 first), one in five
# with a syncer: at 1,000 that run alone takes 15-20 minutes on a 2-core machine.
BENCH_WECS ?= 1000

bench: testbin ## Run the benchmarks against real servers and print their tables.
	KUBESTELLAR_BENCH_SPACES=$(BENCH_SPACES) KUBESTELLAR_BENCH_WECS=$(BENCH_WECS) KUBESTELLAR_TEST_ASSETS=$(TEST_ASSETS) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 150m $(BENCH_PACKAGES)

# The fault suite (test/chaos): CHAOS_SCALE multiplies each fault's duration (1: SIGSTOP 30s,
# link cut 60s, cluster apiserver down 60s); CHAOS_SEED replays a run (empty: from the time).
CHAOS_ROUNDS ?= 20
CHAOS_SCALE ?= 0.25
CHAOS_SEED ?=
CHAOS_FLAGS := -chaos.bin $(BIN_DIR) -chaos.rounds $(CHAOS_ROUNDS) -chaos.scale $(CHAOS_SCALE) $(if $(CHAOS_SEED),-chaos.seed $(CHAOS_SEED))

.PHONY: chaos
chaos: build testbin ## Fault suite: kills, SIGSTOPs, cut syncer links and cluster outages while a workload changes; prints its seed and a table.
	KUBESTELLAR_TEST_ASSETS=$(TEST_ASSETS) $(GO) test -tags chaos -run '^TestChaos$$' -v -count 1 -timeout 60m ./test/chaos -args $(CHAOS_FLAGS)

##@ Local single-node cluster (hack/cluster; needs root)

.PHONY: cluster-up
cluster-up: clusterbin ## Bring up a real single-node Kubernetes cluster in _output/cluster and print the KUBECONFIG to use.
	hack/cluster/up

.PHONY: cluster-down
cluster-down: ## Stop the single-node cluster and put the machine back as it was.
	hack/cluster/down

.PHONY: cluster-ingress
cluster-ingress: traefik ## Start Traefik, the cluster's ingress with TLS passthrough, on the bridge address, port 8443.
	hack/cluster/ingress-up

.PHONY: e2e-images-load
e2e-images-load: e2e-images ## Build the images (with those of the end-to-end tests) and import them into the local cluster.
	hack/cluster/load-image --all

.PHONY: e2e
e2e: build clusterbin coredns traefik $(HELM) ## End-to-end test: local cluster + ingress, images, test/e2e against it, teardown; phase times at the end.
	KUBECTL=$(KUBE_BIN_DIR)/kubectl HELM=$(HELM) KUBESTELLAR_TEST_ASSETS=$(TEST_ASSETS) hack/e2e.sh

##@ Container images (from scratch, no container engine; OCI tarballs in _output/images)

REGISTRY ?= ghcr.io
REPOSITORY ?= kubestellar/kubestellar
IMAGE_TAG ?= $(VERSION)
IMAGES_DIR := $(CURDIR)/_output/images
IMAGE_BIN_DIR := $(IMAGES_DIR)/bin
IMAGEBUILD := $(IMAGE_BIN_DIR)/imagebuild
# The components `make images` builds and `make push` pushes; `make e2e-images` adds images
# that only the end-to-end tests use, `make example-images` those of the multicluster examples.
IMAGES ?= space-server init mailbox-controller where-resolver placement-translator syncer
E2E_IMAGES := kubectl
EXAMPLE_IMAGES := helloworld deploymentcopy podghost
# The syncer runs in every workload execution cluster, whatever its machines, so its image is
# a multi-platform index: one image per platform, each with the syncer cross-compiled for it.
# The other images are for the build machine's platform.
SYNCER_PLATFORMS ?= linux/amd64,linux/arm64,linux/s390x
comma := ,
# `make build-kubestellar-syncer-image DOCKER_REPO=quay.io/me/syncer` also pushes the syncer there.
DOCKER_REPO ?=
# Each image: its entrypoint, then the other binaries beside it in /usr/local/bin.
IMAGE_BINS_space-server := kubestellar-space-server kube-apiserver kube-controller-manager
IMAGE_BINS_init := kubestellar
IMAGE_BINS_mailbox-controller := mailbox-controller
IMAGE_BINS_where-resolver := kubestellar-where-resolver
IMAGE_BINS_placement-translator := placement-translator
IMAGE_BINS_syncer := kubestellar-syncer
IMAGE_BINS_kubectl := kubectl
IMAGE_BINS_helloworld := helloworld
IMAGE_BINS_deploymentcopy := deploymentcopy
IMAGE_BINS_podghost := podghost
IMAGE_COMMANDS := $(sort $(foreach i,$(IMAGES),$(filter-out kube-apiserver kube-controller-manager kubectl,$(IMAGE_BINS_$(i)))))
# Binaries in images are stamped with the commit's time rather than the build's, and image
# files with the same time, so that one commit gives the same images on every build.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_BUILD_DATE := $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
IMAGE_LDFLAGS := -s -w \
	-X $(PKG)/pkg/version.gitVersion=$(VERSION) \
	-X $(PKG)/pkg/version.gitCommit=$(GIT_COMMIT) \
	-X $(PKG)/pkg/version.gitTreeState=$(GIT_TREE_STATE) \
	-X $(PKG)/pkg/version.buildDate=$(IMAGE_BUILD_DATE)
# Upstream binaries come from the cached Go module builds, which are static (CGO_ENABLED=0).
image_bin = $(if $(filter kube-apiserver kube-controller-manager kubectl,$(1)),$(KUBE_BIN_DIR)/$(1),$(IMAGE_BIN_DIR)/$(1))
# The labels of image $(1).
image_labels = --label org.opencontainers.image.title=$(1) \
	  --label org.opencontainers.image.version=$(IMAGE_TAG) \
	  --label org.opencontainers.image.revision=$(GIT_COMMIT) \
	  --label org.opencontainers.image.source=https://$(PKG) \
	  --created $(IMAGE_BUILD_DATE)

.PHONY: images
images: $(addprefix image-,$(IMAGES)) ## Build every component image into _output/images/<component>.tar, tagged $(REGISTRY)/$(REPOSITORY)/<component>:$(IMAGE_TAG).

.PHONY: e2e-images
e2e-images: images $(addprefix image-,$(E2E_IMAGES)) ## Build the component images and those only the end-to-end tests use (kubectl).

.PHONY: example-images
example-images: $(addprefix image-,$(EXAMPLE_IMAGES)) ## Build the images of the multicluster examples (examples/), named like the components'.

.PHONY: build-kubestellar-syncer-image
build-kubestellar-syncer-image: image-syncer ## The syncer image for SYNCER_PLATFORMS (default linux/amd64,linux/arm64,linux/s390x), as image-syncer; with DOCKER_REPO, pushed to $(DOCKER_REPO):$(IMAGE_TAG).
	@if [ -n "$(DOCKER_REPO)" ]; then $(IMAGEBUILD) push --image $(IMAGES_DIR)/syncer.tar --ref $(DOCKER_REPO):$(IMAGE_TAG); fi

.PHONY: build-kubestellar-syncer-image-local
build-kubestellar-syncer-image-local: ## The syncer image for this machine's platform alone; prints its reference, as in image=$(make -s build-kubestellar-syncer-image-local).
	@$(MAKE) --no-print-directory image-syncer SYNCER_PLATFORMS=linux/$(shell $(GO) env GOARCH) >&2
	@echo $(REGISTRY)/$(REPOSITORY)/syncer:$(IMAGE_TAG)

.PHONY: push
push: images ## Push the component images to $(REGISTRY)/$(REPOSITORY) (credentials: docker login / config.json).
	@for c in $(IMAGES); do \
	  $(IMAGEBUILD) push --image $(IMAGES_DIR)/$$c.tar --ref $(REGISTRY)/$(REPOSITORY)/$$c:$(IMAGE_TAG); \
	done

.PHONY: image-binaries
image-binaries: $(KUBE_BIN_DIR)/kube-apiserver $(KUBE_BIN_DIR)/kube-controller-manager
	@mkdir -p $(IMAGE_BIN_DIR)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(IMAGE_LDFLAGS)' -o $(IMAGE_BIN_DIR)/ $(addprefix ./cmd/,$(IMAGE_COMMANDS))
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(IMAGE_BIN_DIR)/ ./hack/imagebuild

.PHONY: example-binaries
example-binaries:
	@mkdir -p $(IMAGE_BIN_DIR)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(IMAGE_LDFLAGS)' -o $(IMAGE_BIN_DIR)/ $(addprefix ./examples/,$(EXAMPLE_IMAGES))

# The syncer for each of SYNCER_PLATFORMS, in $(IMAGE_BIN_DIR)/<os>_<arch>/.
.PHONY: syncer-binaries
syncer-binaries:
	@for p in $(subst $(comma), ,$(SYNCER_PLATFORMS)); do \
	  IFS=/ read -r os arch variant <<<"$$p"; \
	  if [ -z "$$os" ] || [ -z "$$arch" ] || [ -n "$$variant" ]; then \
	    echo "SYNCER_PLATFORMS: '$$p' is not OS/ARCH, such as linux/arm64 (comma-separated, no variants)" >&2; exit 1; \
	  fi; \
	  echo "Building kubestellar-syncer for $$os/$$arch"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(IMAGE_LDFLAGS)' -o $(IMAGE_BIN_DIR)/$${os}_$${arch}/ ./cmd/kubestellar-syncer; \
	done

image-syncer: image-binaries syncer-binaries
	@$(IMAGEBUILD) --if-changed --format oci --index --platform $(SYNCER_PLATFORMS) \
	  --ref $(REGISTRY)/$(REPOSITORY)/syncer:$(IMAGE_TAG) \
	  --entrypoint /usr/local/bin/kubestellar-syncer \
	  --file '$(IMAGE_BIN_DIR)/{os}_{arch}/kubestellar-syncer:/usr/local/bin/kubestellar-syncer' \
	  $(call image_labels,syncer) \
	  --output $(IMAGES_DIR)/syncer.tar

image-%: image-binaries
	@[ -n "$(IMAGE_BINS_$*)" ] || { echo "unknown image $*; known: $(IMAGES) $(E2E_IMAGES) $(EXAMPLE_IMAGES)" >&2; exit 1; }
	@$(IMAGEBUILD) --if-changed --format oci \
	  --ref $(REGISTRY)/$(REPOSITORY)/$*:$(IMAGE_TAG) \
	  --entrypoint /usr/local/bin/$(firstword $(IMAGE_BINS_$*)) \
	  $(foreach b,$(IMAGE_BINS_$*),--file $(call image_bin,$(b)):/usr/local/bin/$(b)) \
	  $(call image_labels,$*) \
	  --output $(IMAGES_DIR)/$*.tar

image-kubectl: $(KUBE_BIN_DIR)/kubectl
$(addprefix image-,$(EXAMPLE_IMAGES)): example-binaries

.PHONY: print-registry print-repository print-image-tag
print-registry: ## Print the registry the images are named for.
	@echo $(REGISTRY)
print-repository: ## Print the repository the images are named for.
	@echo $(REPOSITORY)
print-image-tag: ## Print the images' tag.
	@echo $(IMAGE_TAG)

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
lint: $(GOLANGCI_LINT) $(HELM) ## Run go vet, golangci-lint, helm lint and shellcheck.
	$(GO) vet -tags e2e,chaos ./...
	$(GOLANGCI_LINT) run ./...
	$(HELM) lint --strict $(CHART_DIR) --set externalEndpoint=kubestellar.example.com:443
	$(HELM) lint --strict $(CHART_DIR) --set openshift=true
	hack/ensure-packages.sh shellcheck
	shellcheck -x .ci/run hack/*.sh $(filter-out %.md,$(wildcard hack/cluster/*)) bootstrap/*.sh

# The native Go fuzz targets, as package:target (go test fuzzes one target of one package per
# run). Their seed corpora (f.Add and testdata/fuzz/) also run in every plain go test.
FUZZ_TARGETS := \
	./pkg/placement:FuzzExpandString \
	./pkg/placement:FuzzCustomizeReplacement \
	./pkg/kubeconfig:FuzzSwitchDomain \
	./pkg/spaces:FuzzSpacePath \
	./pkg/wrapper:FuzzWrapUnwrap \
	./pkg/where:FuzzSelectorMatching \
	./charts:FuzzValues
# FUZZTIME is a duration or a count of executions (1000000x). CI's pass is bounded by a count:
# Go before 1.27 can fail a duration-bounded run that ends while a worker is busy, with
# "context deadline exceeded" and no crashing input (go.dev/issue/75804), which a loaded
# machine makes likely. FUZZ_CI_EXECS runs take from about 5 s (the fast targets) to about
# 50 s (FuzzValues renders the chart per input) each, after the corpus is replayed.
FUZZTIME ?= 60s
FUZZ_CI_EXECS ?= 5000
FUZZ_FLAGS ?=
# fuzz_run(time, extra flags): each target in turn; a crash stops the run, and the input that
# caused it is written to that package's testdata/fuzz/<target>/.
fuzz_run = for t in $(FUZZ_TARGETS); do \
	  echo "== $${t%%:*} $${t\#\#*:} ($(1))"; \
	  $(GO) test -run '^$$' -fuzz "^$${t\#\#*:}\$$" -fuzztime $(1) $(2) $(FUZZ_FLAGS) "$${t%%:*}" || exit 1; \
	done

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 60s), one after another; a crash fails and is kept in testdata/fuzz/.
	@$(call fuzz_run,$(FUZZTIME),)

.PHONY: fuzz-ci
fuzz-ci: ## The bounded fuzz pass of CI: each target for FUZZ_CI_EXECS executions (default 5000) with -parallel 2.
	@$(call fuzz_run,$(FUZZ_CI_EXECS)x,-parallel 2)

##@ Upstream binaries and tools (built from Go modules, cached in CACHE_DIR)

.PHONY: testbin
testbin: $(KUBE_BIN_DIR)/kube-apiserver $(KUBE_BIN_DIR)/kube-controller-manager $(KUBE_BIN_DIR)/kubectl $(ETCD_BIN_DIR)/etcd ## Build kube-apiserver, kube-controller-manager, kubectl and etcd for tests.

.PHONY: helm
helm: $(HELM) ## Build the helm CLI (the version go.mod names) and print its path.
	@echo $(HELM)

.PHONY: clusterbin
clusterbin: testbin $(KUBE_BIN_DIR)/kubelet $(KUBE_BIN_DIR)/kube-scheduler $(KUBE_BIN_DIR)/kube-proxy ## Build, in addition, kubelet, kube-scheduler and kube-proxy for the single-node cluster (hack/cluster).

.PHONY: print-cluster-assets
print-cluster-assets: ## Print the directories holding the cluster's binaries (kubernetes:etcd).
	@echo $(TEST_ASSETS)

.PHONY: traefik
traefik: $(TRAEFIK) ## Build Traefik, the local cluster's ingress, from its Go module (first time: about 8 minutes).

.PHONY: coredns
coredns: $(COREDNS) ## Build CoreDNS, the local cluster's DNS, from its Go module.

.PHONY: print-coredns
print-coredns: ## Print the path of the CoreDNS binary `make coredns` builds.
	@echo $(COREDNS)

.PHONY: print-traefik
print-traefik: ## Print the path of the Traefik binary `make traefik` builds.
	@echo $(TRAEFIK)

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

$(HELM):
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)' -o $@.tmp helm.sh/helm/v3/cmd/helm
	mv $@.tmp $@

$(TRAEFIK):
	@echo "Building Traefik $(TRAEFIK_VERSION) from github.com/traefik/traefik/v3 (first time: several minutes)"
	mkdir -p $(dir $@)
	cd hack/traefik && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$(TRAEFIK_VERSION)' -o $@.tmp github.com/traefik/traefik/v3/cmd/traefik
	mv $@.tmp $@

$(COREDNS):
	@echo "Building CoreDNS $(COREDNS_VERSION) from github.com/coredns/coredns (first time: a few minutes)"
	mkdir -p $(dir $@)
	cd hack/coredns && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w -X github.com/coredns/coredns/coremain.GitCommit=$(COREDNS_VERSION)' -o $@.tmp .
	mv $@.tmp $@

$(CONTROLLER_GEN):
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)

$(GOLANGCI_LINT):
	GOBIN=$(dir $@) CGO_ENABLED=0 $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

##@ Examples

.PHONY: quickstart
quickstart: build testbin ## The florin/guilder example as bare processes, step by step; KEEP=true leaves it running.
	KUBECTL=$(KUBE_BIN_DIR)/kubectl hack/quickstart.sh

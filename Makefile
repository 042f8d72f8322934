# ovhbridge-operator — the usual kubebuilder targets, plus a local control
# plane built from the Go module proxy (no download site needed).

GO ?= go
BIN := $(CURDIR)/bin
# Versioned tools are built once per machine, like the control plane, and
# shared by every checkout (a fresh clone in CI does not rebuild them).
TOOLS_DIR ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/ovhbridge-operator/tools
CONTROLLER_TOOLS_VERSION := v0.23.0
CONTROLLER_GEN := $(TOOLS_DIR)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(TOOLS_DIR)/golangci-lint-$(GOLANGCI_LINT_VERSION)
# Where kube-apiserver, etcd and kubectl live (shared by every checkout).
KUBEBUILDER_ASSETS ?= $(shell hack/envtest-assets.sh --dir)
export KUBEBUILDER_ASSETS
KUBECTL := $(KUBEBUILDER_ASSETS)/kubectl
TEST_TIMEOUT ?= 30m
# Test packages run at once. The suites mostly wait on simulated systems
# (tasks, leases, intent graces), so more than one per core keeps the two
# cores busy: measured on a 2-core machine, 4 takes the test run from about
# 5m50s to 3m30s.
TEST_PARALLEL ?= 4
FUZZTIME ?= 1m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the API markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## gofmt the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## go vet, and fail on unformatted files.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## golangci-lint v2 with .golangci.yml (govet, staticcheck, errcheck, ineffassign, unused, gocritic's bug checks, ...).
	$(GOLANGCI_LINT) run ./...

.PHONY: verify-generated
verify-generated: ## Fail if CRDs, RBAC or deepcopy are stale.
	hack/verify-generated.sh

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver, etcd and kubectl once per machine (~20 min the first time).
	hack/envtest-assets.sh

.PHONY: test
test: envtest-assets verify-generated vet lint ## Run every test (fuzz targets replay their seeds and testdata/fuzz; nothing random).
	$(GO) test ./... -count=1 -p $(TEST_PARALLEL) -timeout $(TEST_TIMEOUT)

.PHONY: fuzz
fuzz: ## Explore every fuzz target for FUZZTIME each (default 1m); not part of make test. Commit what it finds under testdata/fuzz with the fix.
	@for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
			if ! $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) >/tmp/fuzz-$$f.log 2>&1; then \
				if grep -q 'context deadline exceeded' /tmp/fuzz-$$f.log && ! grep -q 'Failing input written' /tmp/fuzz-$$f.log \
					&& $(GO) test $$pkg -run "^$$f$$" -count=1 >>/tmp/fuzz-$$f.log 2>&1; then \
					echo "  $$f: Go's fuzz coordinator hit its own -fuzztime deadline (golang/go#75804, fixed in Go 1.27), no failing input; corpus replay passed"; \
				else cat /tmp/fuzz-$$f.log; exit 1; fi; \
			fi; \
		done; \
	done

.PHONY: test-race
test-race: envtest-assets ## Run the tests with the race detector.
	$(GO) test ./... -race -count=1 -timeout 60m

.PHONY: demo
demo: envtest-assets build ## Run everything locally and replay the write-up's failures (KEEP=1 keeps it running; KERNEL=1, as root, puts the router on the real kernel).
	$(GO) run ./hack/demo -operator bin/manager $(if $(KEEP),-keep) $(if $(KERNEL),-kernel)

.PHONY: bench
bench: envtest-assets build ## Measure drift latency, API cost and scale; write test/bench/RESULTS.md (~15 min; BENCH_ARGS=-h lists options).
	BENCH_COMMAND="make bench$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" $(GO) run ./test/bench -operator bin/manager $(BENCH_ARGS)

##@ Build

.PHONY: build
build: ## Build the operator binary into bin/.
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/manager .

.PHONY: run
run: manifests ## Run the operator against the cluster in $KUBECONFIG.
	$(GO) run . --leader-elect=false

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster in $KUBECONFIG.
	$(KUBECTL) apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: ## Remove the CRDs (and every object of these kinds!).
	$(KUBECTL) delete --ignore-not-found -f config/crd/bases

.PHONY: deploy
deploy: manifests ## Deploy the operator with kustomize (config/default).
	$(KUBECTL) apply --server-side -k config/default

# go install into a temporary GOBIN, then an atomic rename: an interrupted
# build never leaves a broken tool behind.
define install-tool
	@mkdir -p $(TOOLS_DIR)
	tmp=$$(mktemp -d $(TOOLS_DIR)/.build.XXXXXX) && GOBIN=$$tmp $(GO) install $(1) && mv -f $$tmp/$(2) $@ && rm -rf $$tmp
endef

$(GOLANGCI_LINT):
	$(call install-tool,github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION),golangci-lint)

$(CONTROLLER_GEN):
	$(call install-tool,sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION),controller-gen)

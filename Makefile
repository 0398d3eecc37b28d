# rpmirror: run `make help` for the targets.
GO       ?= go
export CGO_ENABLED := 0
BIN      := bin/rpmirror
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The commit, as dist/mkrpm.sh stamps it: not left to go build's -buildvcs,
# which GOFLAGS=-buildvcs=false turns off ("commit unknown").
COMMIT   ?= $(shell c=$$(git rev-parse HEAD 2>/dev/null) && { test -z "$$(git status --porcelain 2>/dev/null)" || c=$$c+dirty; echo $$c; })
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 10s
RPMDIR   ?= bin/rpm

.PHONY: help build test demo bench fuzz lint fixtures rpm clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

build: ## build bin/rpmirror
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/rpmirror

test: ## run every test (integration tests need rpm, createrepo_c, gpg and dnf; they say so and skip without them)
	@for t in rpmbuild rpmsign rpmkeys gpg1 createrepo_c modifyrepo_c gpg dnf zstd promtool rpmlint systemd-analyze man zsh; do \
	  command -v $$t >/dev/null || echo "make test: $$t is not installed: the tests that need it skip (README says how to install it)"; \
	done
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || echo "make test: nginx is not installed: the test of the documented server block skips"
	@command -v versitygw >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/versitygw" ] || echo "make test: versitygw is not installed: the object-storage tests skip (.ci/run installs it)"
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

demo: build ## sync the shipped signed repository, served on loopback, to two local mirrors
	./$(BIN) demo

bench: ## run the benchmarks and write docs/benchmarks.md (needs nginx, wrk, rsync; BENCH_ONLY=serve1000 for one section)
	./scripts/bench.sh

fuzz: ## run each fuzz target for FUZZTIME (default 10s); a finding is kept under testdata/fuzz/
	./scripts/fuzz.sh $(FUZZTIME) ./repodata ./internal/inflate ./internal/zchunk ./filter ./config ./verify ./mirrorlist ./health ./selection ./server

lint: ## gofmt, go vet, and go mod tidy must change nothing
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy -diff

rpm: ## build the RPM and SRPM into bin/rpm/ with rpmbuild, no network (dist/rpmirror.spec)
	./dist/mkrpm.sh $(RPMDIR)

fixtures: ## rebuild the committed test repositories (needs rpmbuild, rpmsign, gpg, createrepo_c)
	./scripts/mkrepo.sh -demo internal/demo/origin

clean: ## remove build output
	rm -rf bin

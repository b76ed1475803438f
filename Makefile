# The two commands of the README:
#   make demo   build sandbox and show it at work
#   make test   install what the tests need, then run them all
# Both install their prerequisites on a fresh Debian machine (as root), and
# are idempotent.

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin

.PHONY: all deps build demo test test-arch vet bench clean

all: build

# deps installs the C library the seccomp compiler links against (cgo lives
# only in seccomp/) and pkg-config. Nothing is installed when present.
deps:
	@if ! pkg-config --exists libseccomp 2>/dev/null || ! command -v gcc >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then echo "make: libseccomp-dev, pkg-config and gcc are missing; run as root or install them" >&2; exit 1; fi; \
		echo "installing libseccomp-dev pkg-config gcc"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev pkg-config gcc >/dev/null; \
	fi

build: deps
	$(GO) build -o $(BIN)/sandbox ./cmd/sandbox

demo: build
	@./scripts/demo.sh $(BIN)/sandbox

vet: deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting" >&2; exit 1; }

# test-arch builds and vets the spawn core for arm64, which cannot run here.
test-arch:
	GOARCH=arm64 CGO_ENABLED=0 $(GO) vet ./spawn/
	GOARCH=arm64 CGO_ENABLED=0 $(GO) test -c -o /dev/null ./spawn/

# test runs every test as root (privileged tests run for real), then again
# as an unprivileged user (scripts/test-unprivileged.sh).
test: deps vet test-arch
	$(GO) test -race -count=1 -timeout 20m ./...
	GO=$(GO) ./scripts/test-unprivileged.sh

bench: deps bench-c
	@./scripts/bench.sh

# bench-c builds the C side of the benchmarks into bin/bench/: the static
# no-libc child (nop) and the posix_spawn/vfork reference (spawnbench).
.PHONY: bench-c
bench-c: deps
	$(MAKE) -s -C bench/c OUT=$(CURDIR)/$(BIN)/bench

clean:
	rm -rf $(BIN) bench/out

# The two commands: `make demo` and `make test`. Both do all the set-up a fresh machine with
# Node 20, Go and gdb needs: npm packages, Delve (go install), zstd, then the TypeScript build and
# the Go capture tracer.
SHELL := /bin/bash
DLV_VERSION := v1.27.2
GOBIN := $(shell go env GOBIN)
GOPATH := $(shell go env GOPATH)
DLV := $(if $(GOBIN),$(GOBIN),$(GOPATH)/bin)/dlv
# The fleet tests' S3 server (Apache-2.0), built once into the Go bin dir (~2 min on 2 vCPUs), as
# `hotdump fleet up` would install it.
VERSITYGW_VERSION := v1.8.0
VERSITYGW := $(dir $(DLV))versitygw
export PATH := $(dir $(DLV)):$(PATH)

.PHONY: setup deps tools build demo test lint typecheck clean

# The set-up's steps are independent until the build: npm ci (better-sqlite3's native build), the
# Delve build and apt-get run side by side (apt-get's own steps one after the other: dpkg's lock).
MAKEFLAGS += --jobs=4

setup: deps tools build

deps: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

tools: $(DLV) $(VERSITYGW) .tools/apt.ok
$(DLV):
	go install github.com/go-delve/delve/cmd/dlv@$(DLV_VERSION)
$(VERSITYGW):
	go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
# Debian packages the tests and the store need; installed only where missing (root: as CI runs).
# strace: the durability test watches fsync/unlink order; gcc: the cgo fixture (import "C");
# postgresql: the fleet's index (`hotdump fleet up` finds initdb on PATH or in /usr/lib/postgresql).
.tools/apt.ok:
	@mkdir -p .tools
	@missing=""; command -v zstd >/dev/null || missing="$$missing zstd"; \
	 command -v gdb >/dev/null || missing="$$missing gdb"; \
	 command -v strace >/dev/null || missing="$$missing strace"; \
	 command -v cc >/dev/null || missing="$$missing gcc"; \
	 command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	 if [ -n "$$missing" ]; then \
	   if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
	   else echo "hotdump: please install:$$missing (apt-get install$$missing)"; exit 1; fi; fi
	@touch $@

# Debian's chromium, for the dashboard's browser tests only (playwright-core drives it).
.tools/chromium.ok: .tools/apt.ok
	@mkdir -p .tools
	@if [ ! -x /usr/bin/chromium ]; then \
	   if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	   else echo "hotdump: the browser tests need chromium (apt-get install chromium)"; exit 1; fi; fi
	@touch $@

# Third-party Go modules the fixtures import, from the module proxy into the module cache
# (go-systemd for the notify/watchdog tests; chi, gin, echo, grpc-go and go-grpc-middleware for
# the recovered-panic tests); pinned by each fixture's go.sum.
.tools/gomod.ok: test/fixtures/hangsvc/go.mod test/fixtures/hangsvc/go.sum \
		test/fixtures/recovered/go.mod test/fixtures/recovered/go.sum
	@mkdir -p .tools
	cd test/fixtures/hangsvc && go mod download
	cd test/fixtures/recovered && go mod download
	@touch $@

# The capture tracer and core handler (tracer/, Go): built here once, rebuilt by hotdump itself
# whenever its sources change (src/capture/tracer.ts).
build: deps
	npm run build
	node --input-type=module -e 'import("./dist/capture/tracer.js").then((m) => console.log(m.tracerBinary()))'

# The dashboard's front-end is JavaScript typed with JSDoc: tsconfig.ui.json checks it (checkJs).
typecheck: deps
	npx tsc -p tsconfig.test.json
	npx tsc -p tsconfig.ui.json

# Biome, then the structure: no import cycle between modules or folders, no import of cli/ from below.
lint: deps
	npx biome check src test bench scripts
	node scripts/check-imports.mjs

demo: setup
	bash examples/demo.sh

# Two passes: everything under the machine's own core_pattern, then (alone, one file at a time)
# the tests that set core_pattern themselves and restore it.
test: setup .tools/chromium.ok .tools/gomod.ok typecheck lint
	cd tracer && go test ./...
	npx vitest run
	npx vitest run -c vitest.pattern.config.ts

clean:
	rm -rf dist .tools tracer/bin

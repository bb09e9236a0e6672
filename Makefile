# Gravel: build, run, test and benchmark.
#
#   make build           debug build of every target
#   make run [ARGS=...]  build and run gravel-gateway (default ARGS: -l localhost:4278)
#   make test            format check, the Lambda layer (make layer), Swift tests, a short fuzz run,
#                        then the Python integration tests
#   make format          apply .swift-format to the tree
#   make bench           benchmarks (scripts/bench.sh)
#   make clean           remove build products and test caches

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := build

SWIFT   ?= swift
PYTHON  ?= python3
ARGS    ?= -l localhost:4278
# Extra flags for every swift command, e.g. SWIFT_FLAGS="--scratch-path .build-release -c release".
SWIFT_FLAGS ?=

# Every Swift file the formatter checks.
FORMAT_PATHS ?= Package.swift Sources Tests Benchmarks Fuzz

.PHONY: build run test bench clean format format-check

build:
	$(SWIFT) build $(SWIFT_FLAGS)

run:
	scripts/setup.sh run
	$(SWIFT) build $(SWIFT_FLAGS)
	bin="$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	exec "$$bin/gravel-gateway" $(ARGS)

format:
	$(SWIFT) format format --in-place --recursive --parallel $(FORMAT_PATHS)

format-check:
	$(SWIFT) format lint --strict --recursive --parallel $(FORMAT_PATHS)

# The layer tests (IntegrationTests/integration/test_layer.py) run the zip `make layer` builds.
test: format-check layer
	scripts/setup.sh test
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build
	# A short coverage-guided run of each fuzz target (make fuzz runs them long).
	FUZZ_SECONDS=15 scripts/fuzz.sh
	bin="$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	GRAVEL_BIN_DIR="$$bin" GRAVEL_LAYER_ZIP="$(LAYER_ZIP)" $(PYTHON) -m pytest -q -p no:cacheprovider IntegrationTests/lambda IntegrationTests/integration

bench:
	scripts/setup.sh bench
	bash scripts/bench.sh

clean:
	if [ -d .build ]; then $(SWIFT) package clean; fi
	rm -rf .pytest_cache IntegrationTests/integration/.pytest_cache
	find IntegrationTests -name __pycache__ -type d -prune -exec rm -rf {} +

# Targets of the parts that keep their own fragments (the extension's layer and demo).
-include mk/*.mk

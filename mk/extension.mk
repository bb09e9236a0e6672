# gravel-extension: the Lambda layer and the one-command demo.
#
#   make layer   release build (static Swift stdlib) and dist/gravel-extension-layer.zip
#   make demo    gateway + Lambda sandbox emulator + extension + a Python function, end to end
#
# Included by the main Makefile (`-include mk/*.mk`), which defines SWIFT, PYTHON and
# SWIFT_FLAGS.

LAYER_ZIP ?= dist/gravel-extension-layer.zip
# Release products live apart from the debug build the tests use.
LAYER_SCRATCH ?= .build-release

.PHONY: layer demo

layer:
	scripts/setup.sh run
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(LAYER_SCRATCH) --product gravel-extension
	bin="$$($(SWIFT) build -c release --static-swift-stdlib --scratch-path $(LAYER_SCRATCH) --show-bin-path)"
	deploy/lambda/build-layer.sh "$$bin/gravel-extension" $(LAYER_ZIP)

demo:
	scripts/setup.sh test
	$(SWIFT) build $(SWIFT_FLAGS) --product gravel-gateway
	$(SWIFT) build $(SWIFT_FLAGS) --product gravel-extension
	bin="$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	GRAVEL_BIN_DIR="$$bin" $(PYTHON) examples/lambda-demo/demo.py

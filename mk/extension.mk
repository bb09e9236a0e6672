# gravel-extension: the Lambda layer and the one-command demo.
#
#   make layer   dist/gravel-extension-layer.zip: the extension for Lambda (x86_64), with a
#                static libcurl, OpenSSL, zlib and Swift runtime; needs only glibc 2.34
#   make demo    gateway + Lambda sandbox emulator + extension + a Python function, end to end
#
# Included by the main Makefile (`-include mk/*.mk`), which defines SWIFT, PYTHON and
# SWIFT_FLAGS. The layer's intermediate products (libcurl built from Debian's source
# package, the release build) are cached in .build-layer/: a rerun only redoes what changed.

LAYER_ZIP ?= dist/gravel-extension-layer.zip

.PHONY: layer demo

layer:
	scripts/setup.sh layer
	SWIFT="$(SWIFT)" deploy/lambda/build-layer.sh $(LAYER_ZIP)

demo:
	scripts/setup.sh test
	$(SWIFT) build $(SWIFT_FLAGS) --product gravel-gateway
	$(SWIFT) build $(SWIFT_FLAGS) --product gravel-extension
	bin="$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	GRAVEL_BIN_DIR="$$bin" $(PYTHON) examples/lambda-demo/demo.py

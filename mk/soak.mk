# Soak: the gateway's kill -9 durability test for many more rounds than `make test` runs.
#
#   make soak [SOAK_ROUNDS=200]   kill -9 a gateway under load SOAK_ROUNDS times; after each
#                                 restart every counter must be at least the pushes acknowledged
#                                 and at most the pushes sent
#
# Included by the main Makefile (`-include mk/*.mk`), which defines SWIFT, PYTHON and
# SWIFT_FLAGS.

SOAK_ROUNDS ?= 200

.PHONY: soak

soak:
	scripts/setup.sh test
	$(SWIFT) build $(SWIFT_FLAGS) --product gravel-gateway
	bin="$$($(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)"
	GRAVEL_BIN_DIR="$$bin" GRAVEL_DURABILITY_ROUNDS=$(SOAK_ROUNDS) GRAVEL_DURABILITY_BUDGET_S=$$(( $(SOAK_ROUNDS) * 10 )) \
		$(PYTHON) -m pytest -q -p no:cacheprovider \
		IntegrationTests/integration/test_gateway_durability.py -k kill_9

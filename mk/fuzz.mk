# Coverage-guided fuzzing of the exposition core (libFuzzer, Fuzz/).
#
#   make fuzz [FUZZ_SECONDS=600] [FUZZ_TARGETS="text protobuf path pipeline"]
#
# Each target runs FUZZ_SECONDS (default 600) from the seed corpus in Fuzz/Corpus/<target>;
# what it learns stays in .build-fuzz/corpus, a crasher in .build-fuzz/crashes. `make test`
# runs the same script for a short time. Included by the main Makefile (`-include mk/*.mk`).

FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= text protobuf path pipeline

.PHONY: fuzz

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" scripts/fuzz.sh

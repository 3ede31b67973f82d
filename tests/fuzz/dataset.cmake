# Fuzz target for the JSONL dataset loader (profiles, chat-message prompts, dotted paths) and
# its writer's round trip.
file(GLOB RLC_DATASET_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/fixtures/math/*.jsonl)
rlc_fuzz(fuzz_dataset TARGET ${CMAKE_SOURCE_DIR}/tests/data/fuzz_dataset.c
  SOURCES ${CMAKE_SOURCE_DIR}/data/dataset.c ${RLC_CORE_SOURCES}
  SEEDS ${RLC_DATASET_FUZZ_SEEDS} SECONDS 10)

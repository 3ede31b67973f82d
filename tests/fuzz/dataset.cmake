# Fuzz target for the dataset loader (profiles, chat-message prompts, dotted paths) and
# its writer's round trip, over every form rows come in: JSONL, one JSON array, a
# gzip-compressed file, parquet.
file(GLOB RLC_DATASET_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/fixtures/math/*.jsonl ${CMAKE_CURRENT_SOURCE_DIR}/seeds/dataset_*)
foreach(f rows_snappy_v1 rows_zstd_v2_dict rows_delta_v2)
  list(APPEND RLC_DATASET_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/fixtures/parquet/${f}.parquet)
endforeach()
rlc_fuzz(fuzz_dataset TARGET ${CMAKE_SOURCE_DIR}/tests/data/fuzz_dataset.c
  SOURCES ${CMAKE_SOURCE_DIR}/data/dataset.c ${RLC_CORE_SOURCES}
  SEEDS ${RLC_DATASET_FUZZ_SEEDS} SECONDS 10)

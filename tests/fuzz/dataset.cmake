# Fuzz target for the dataset loader (profiles, chat-message prompts, dotted paths) and
# its writer's round trip, over every form rows come in: JSONL, one JSON array, a
# gzip-compressed file, parquet, Arrow IPC.
file(GLOB RLC_DATASET_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/fixtures/math/*.jsonl
  ${CMAKE_CURRENT_SOURCE_DIR}/seeds/dataset_*)
foreach(f parquet/rows_snappy_v1.parquet parquet/rows_zstd_v2_dict.parquet parquet/rows_delta_v2.parquet
          parquet/damaged_disagree.parquet arrow/damaged_huge_batch.arrow arrow/rows_file.arrow
          arrow/types_stream.arrow parquet/types.parquet parquet/types_int.parquet parquet/rows_brotli_v1.parquet
          parquet/rows_lz4_v2.parquet arrow/dict_lz4.feather arrow/dict_zstd_stream.arrow)
  list(APPEND RLC_DATASET_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/fixtures/${f})
endforeach()
rlc_fuzz(fuzz_dataset TARGET ${CMAKE_SOURCE_DIR}/tests/data/fuzz_dataset.c
  SOURCES ${CMAKE_SOURCE_DIR}/data/dataset.c ${RLC_CORE_SOURCES}
  SEEDS ${RLC_DATASET_FUZZ_SEEDS} SECONDS 10)

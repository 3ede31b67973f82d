# Fuzz target for the math grader and the Countdown verifier (ASan + UBSan, bounded time).
file(GLOB RLC_GRADER_FUZZ_SOURCES ${CMAKE_SOURCE_DIR}/rewards/math/*.c)
file(GLOB RLC_GRADER_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/fixtures/math/fuzz_seeds/*.txt)
rlc_fuzz(fuzz_grader TARGET ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_grader.c
  SOURCES ${RLC_GRADER_FUZZ_SOURCES} ${CMAKE_SOURCE_DIR}/data/synth.c ${CMAKE_SOURCE_DIR}/data/dataset.c ${RLC_CORE_SOURCES}
  SEEDS ${RLC_GRADER_FUZZ_SEEDS} SECONDS 20)

# Fuzz target for PyTorch checkpoints (pytorch_model.bin): the zip directory and the unpickler.
file(GLOB RLC_TORCH_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/fixtures/torch/*.bin)
rlc_fuzz(fuzz_torch_bin TARGET ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_torch_bin.c SOURCES ${RLC_CORE_SOURCES}
  SEEDS ${RLC_TORCH_FUZZ_SEEDS} SECONDS 10)

# Fuzz target for a model's config.json reader (sizes, RoPE scaling kinds, heads, EOS lists).
file(GLOB RLC_MODEL_CONFIG_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/fixtures/models/*/config.json)
rlc_fuzz(fuzz_model_config TARGET ${CMAKE_SOURCE_DIR}/tests/model/fuzz_model_config.c
  SOURCES ${CMAKE_SOURCE_DIR}/model/config.c ${CMAKE_SOURCE_DIR}/model/config_arch.c
  ${CMAKE_SOURCE_DIR}/model/config_moe.c ${RLC_CORE_SOURCES}
  SEEDS ${RLC_MODEL_CONFIG_FUZZ_SEEDS} SECONDS 10)

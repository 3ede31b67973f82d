# Fuzz target for the training-config readers (YAML via libyaml, JSON, argv), ASan + UBSan.
if(NOT TARGET PkgConfig::YAML)
  pkg_check_modules(YAML REQUIRED IMPORTED_TARGET GLOBAL yaml-0.1)
endif()
file(GLOB RLC_RL_CONFIG_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/rl/seeds/cfg.*)
rlc_fuzz(fuzz_rl_config TARGET ${CMAKE_SOURCE_DIR}/tests/rl/fuzz_rl_config.c
  SOURCES ${CMAKE_SOURCE_DIR}/rl/config.c ${CMAKE_SOURCE_DIR}/rl/keys.c ${CMAKE_SOURCE_DIR}/rl/foreign.c
    ${CMAKE_SOURCE_DIR}/rl/algo.c ${CMAKE_SOURCE_DIR}/rl/gap.c
          ${CMAKE_SOURCE_DIR}/tools/names.c ${RLC_CORE_SOURCES}
  LIBS PkgConfig::YAML SEEDS ${RLC_RL_CONFIG_FUZZ_SEEDS} SECONDS 10)

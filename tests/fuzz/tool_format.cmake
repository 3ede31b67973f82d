# Fuzz target for the tool-call formats (parse, render, spans) on arbitrary model text.
file(GLOB RLC_TOOL_FUZZ_SEEDS ${CMAKE_SOURCE_DIR}/tests/tools/seeds/call.* ${CMAKE_SOURCE_DIR}/tests/tools/seeds/tagged.*)
rlc_fuzz(fuzz_tool_format TARGET ${CMAKE_SOURCE_DIR}/tests/tools/fuzz_tool_format.c
  SOURCES ${CMAKE_SOURCE_DIR}/tools/format.c ${RLC_CORE_SOURCES}
  SEEDS ${RLC_TOOL_FUZZ_SEEDS} SECONDS 10)

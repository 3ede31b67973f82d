# Fuzz target for the whole command line (cli_main in process) under ASan + UBSan: every
# command and option with hostile values. The cli/ sources are instrumented; the modules
# come from the normal libraries (a crash anywhere still fails the run).
if(TARGET rlc)
  file(GLOB RLC_CLI_FUZZ_SOURCES ${CMAKE_SOURCE_DIR}/cli/*.c)
  list(REMOVE_ITEM RLC_CLI_FUZZ_SOURCES ${CMAKE_SOURCE_DIR}/cli/main.c)
  set_source_files_properties(${CMAKE_BINARY_DIR}/cli/demo_assets.c PROPERTIES GENERATED TRUE)
  # seeds: plausible command lines per command (tests/fuzz/make_cli_seeds.py writes them)
  file(GLOB RLC_CLI_FUZZ_SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/cli_*.bin)
  rlc_fuzz(fuzz_cli TARGET ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_cli.c
    SOURCES ${RLC_CLI_FUZZ_SOURCES} ${CMAKE_BINARY_DIR}/cli/demo_assets.c
    LIBS rlc_rl rlc_tts rlc_gen rlc_rewards rlc_data rlc_tokenizer rlc_model rlc_kernels rlc_dist rlc_core
    SEEDS ${RLC_CLI_FUZZ_SEEDS}
    SECONDS 20)
  add_dependencies(fuzz_cli rlc)
  target_include_directories(fuzz_cli PRIVATE ${CMAKE_BINARY_DIR}/cli ${CMAKE_BINARY_DIR})
  # error paths of a command may leave memory to the process exit: crashes and undefined
  # behaviour are what this target hunts
  if(NOT RLC_LIBFUZZER)
    set_tests_properties(fuzz_cli PROPERTIES ENVIRONMENT
      "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1;UBSAN_OPTIONS=print_stacktrace=1;RLC_FIXTURES=${CMAKE_SOURCE_DIR}/tests/fixtures;OMP_NUM_THREADS=1")
  endif()
endif()

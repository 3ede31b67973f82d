# Fuzz target for the tokenizer (encode/decode/chat/tokenizer.json loading/Jinja templates) under ASan+UBSan.
# Included by tests/fuzz/CMakeLists.txt; sources are compiled here with the sanitizers.
pkg_check_modules(FUZZ_PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(FUZZ_UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(FUZZ_SPM REQUIRED IMPORTED_TARGET sentencepiece)
find_package(Threads REQUIRED)
file(GLOB RLC_TOKENIZER_FUZZ_SOURCES ${CMAKE_SOURCE_DIR}/tokenizer/*.c ${CMAKE_SOURCE_DIR}/tokenizer/*.cpp)
rlc_fuzz(fuzz_tokenizer TARGET ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_tokenizer.c
  SOURCES ${RLC_TOKENIZER_FUZZ_SOURCES} ${RLC_CORE_SOURCES}
  LIBS PkgConfig::FUZZ_PCRE2 PkgConfig::FUZZ_UTF8PROC PkgConfig::FUZZ_SPM Threads::Threads
  SEEDS ${CMAKE_SOURCE_DIR}/tests/fixtures/tokenizers/tiny-chatml/tokenizer.json
        ${CMAKE_SOURCE_DIR}/tests/fixtures/tokenizers/templates.json
        ${CMAKE_CURRENT_SOURCE_DIR}/seeds/qwen3.jinja ${CMAKE_CURRENT_SOURCE_DIR}/seeds/llama31.jinja
        ${CMAKE_CURRENT_SOURCE_DIR}/seeds/r1.jinja
        ${CMAKE_CURRENT_SOURCE_DIR}/seeds/jinja_select_noargs.bin ${CMAKE_CURRENT_SOURCE_DIR}/seeds/bpe_empty_word.bin
        ${CMAKE_CURRENT_SOURCE_DIR}/seeds/slow_gpt2.bin ${CMAKE_CURRENT_SOURCE_DIR}/seeds/slow_qwen.bin
        ${CMAKE_CURRENT_SOURCE_DIR}/seeds/jinja_sorting.bin ${CMAKE_CURRENT_SOURCE_DIR}/seeds/jinja_int_keys.bin
        ${CMAKE_CURRENT_SOURCE_DIR}/seeds/jinja_format_markup.bin ${CMAKE_CURRENT_SOURCE_DIR}/seeds/seed_oss.jinja
        ${CMAKE_CURRENT_SOURCE_DIR}/seeds/functionary31.jinja
  SECONDS 20)
target_compile_definitions(fuzz_tokenizer PRIVATE RLC_FIXTURE_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures")

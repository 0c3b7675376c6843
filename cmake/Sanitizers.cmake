# Instrumented configurations (clang only), applied to every target defined after this module is
# included:
#   ADJOINT_SANITIZE  AddressSanitizer + UndefinedBehaviorSanitizer; any report aborts the process,
#                     so a test that triggers one fails instead of printing and passing.
#   ADJOINT_FUZZ      the same plus libFuzzer coverage instrumentation, and the fuzz/ targets.
# One build directory can hold both: the unit tests then also carry coverage counters, which costs
# little and saves CI a second instrumented build of the same libraries.
option(ADJOINT_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer (clang)" OFF)
option(ADJOINT_FUZZ "Build the libFuzzer targets in fuzz/ (clang; implies ADJOINT_SANITIZE)" OFF)

if(ADJOINT_FUZZ)
  set(ADJOINT_SANITIZE ON)
endif()

if(ADJOINT_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ADJOINT_SANITIZE/ADJOINT_FUZZ need clang (configure with "
      "-DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19)")
  endif()
  # -fsanitize=function (part of undefined) checks a signature stored just before the callee
  # of each indirect call; JIT-compiled code has none, and the check reads unmapped memory in
  # front of it, so it is off.
  set(ADJOINT_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize=function
    -fno-sanitize-recover=all)
  if(ADJOINT_FUZZ)
    list(APPEND ADJOINT_SANITIZER_FLAGS -fsanitize=fuzzer-no-link)
  endif()
  # -O1 is what ASan is tuned for: quick to compile, still fast, and stack traces stay readable.
  add_compile_options(${ADJOINT_SANITIZER_FLAGS} -O1 -g1 -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

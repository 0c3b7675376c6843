#pragma once
// Shared by the fuzz targets. Each target defines LLVMFuzzerTestOneInput; it is linked either
// with libFuzzer (ADJOINT_FUZZ) or with ReplayMain.cpp, which runs it over corpus files as a test.
//
// A target catches only the error types the code under test documents for bad input. Any other
// exception escapes, and libFuzzer (or the replay) reports it as a crash: a std::out_of_range
// from a stray stoll is as much a bug as a segfault, because the tools would print it without
// naming the file.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace adjoint::fuzz {

// Small enough that no input can make a target allocate past libFuzzer's RSS limit by declaring
// a big tensor; the checks themselves are the same as at the default limit.
constexpr uint64_t kFuzzMaxTensorBytes = uint64_t{64} << 20;

// An empty folder, made once per process, for targets whose inputs may name external data: the
// lookup is exercised, but nothing of the machine's can be read.
const std::string &emptyBaseDir();

// Called with each expected error; prints it when ADJOINT_FUZZ_VERBOSE is set, to check that the
// seeds get past the first checks (a corpus of inputs that all fail at the magic bytes is no use).
void expectedError(const std::exception &e);

} // namespace adjoint::fuzz

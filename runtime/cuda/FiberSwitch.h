#pragma once
// Cooperative fibers for the GPU emulator's blocks (EmulatedProgram.cpp): a block's threads run
// on one OS thread and switch at barriers, millions of times per training step. glibc's
// swapcontext makes two signal-mask system calls per switch, which dominated the emulator's time;
// on x86-64 the switch here saves only the callee-saved registers and the stack pointer, in user
// space. Elsewhere, and under AddressSanitizer (which must see stack switches through its
// ucontext interceptors), it falls back to ucontext.
#include <cstddef>

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ADJOINT_FIBER_UCONTEXT 1
#endif
#endif
#else
#define ADJOINT_FIBER_UCONTEXT 1
#endif

#ifdef ADJOINT_FIBER_UCONTEXT
#include <ucontext.h>
#endif

namespace adjoint::gpu {

struct FiberContext {
#ifdef ADJOINT_FIBER_UCONTEXT
  ucontext_t uc;
#else
  void *sp = nullptr;
#endif
};

// Prepares `ctx` to run entry() on [stack, stack + size) at its first switch. entry() must never
// return: it ends by switching away for good.
void fiberPrepare(FiberContext &ctx, char *stack, size_t size, void (*entry)());
// Saves the running context in `from` and resumes `to`.
void fiberSwitch(FiberContext &from, FiberContext &to);

} // namespace adjoint::gpu

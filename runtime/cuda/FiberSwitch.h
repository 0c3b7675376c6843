#pragma once
// Cooperative fibers for the GPU emulator's blocks (EmulatedProgram.cpp): a block's threads run
// on one OS thread and switch at barriers, millions of times per training step. glibc's
// swapcontext makes two signal-mask system calls per switch, which dominated the emulator's time;
// on x86-64 the switch here saves only the callee-saved registers and the stack pointer, in user
// space. Under AddressSanitizer it tells ASan about each stack switch (the fiber annotations of
// <sanitizer/common_interface_defs.h>), as its ucontext interceptors would. Other CPUs use ucontext.
#include <cstddef>

#if !defined(__x86_64__)
#define ADJOINT_FIBER_UCONTEXT 1
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define ADJOINT_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ADJOINT_FIBER_ASAN 1
#endif
#endif

namespace adjoint::gpu {

struct FiberContext {
#ifdef ADJOINT_FIBER_UCONTEXT
  ucontext_t uc;
#else
  void *sp = nullptr;
#endif
  // The context's stack, for AddressSanitizer (fiberPrepare sets a fiber's, fiberOnThisThread the
  // thread's own), and ASan's saved fake stack while the context is switched out.
  const void *stackBottom = nullptr;
  size_t stackSize = 0;
  void *fakeStack = nullptr;
};

// The calling thread's own context, before its first switch to a fiber.
void fiberOnThisThread(FiberContext &ctx);
// Prepares `ctx` to run entry() on [stack, stack + size) at its first switch. entry() must call
// fiberEntered() first and must never return: it ends with fiberSwitch(..., last = true).
void fiberPrepare(FiberContext &ctx, char *stack, size_t size, void (*entry)());
void fiberEntered();
// Saves the running context in `from` and resumes `to`; `last`: `from` never runs again.
void fiberSwitch(FiberContext &from, FiberContext &to, bool last = false);

} // namespace adjoint::gpu

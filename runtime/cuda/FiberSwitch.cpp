// FiberSwitch.h: the x86-64 switch (with ASan's annotations when instrumented), or ucontext.
#include "FiberSwitch.h"

#include <cstdint>
#include <cstring>
#include <pthread.h>

#ifdef ADJOINT_FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#ifndef ADJOINT_FIBER_UCONTEXT
// adj_fiber_switch(void **saveSp, void *loadSp): pushes the System V callee-saved registers,
// stores the stack pointer, loads the other fiber's and pops its registers; its `ret` resumes
// that fiber where it switched away (or, the first time, enters it: fiberPrepare's frame).
// The x87 control word and MXCSR are not switched: every fiber runs the same code under the same
// floating-point environment.
asm(R"(
  .text
  .p2align 4
  .globl adj_fiber_switch
  .hidden adj_fiber_switch
  .type adj_fiber_switch,@function
adj_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size adj_fiber_switch, .-adj_fiber_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");
extern "C" void adj_fiber_switch(void **saveSp, void *loadSp);
#endif

namespace adjoint::gpu {

void fiberOnThisThread(FiberContext &ctx) {
#ifdef ADJOINT_FIBER_ASAN
  // Only ASan needs the bounds; glibc finds the main thread's by reading /proc/self/maps, so
  // once per thread.
  thread_local const void *bottom = nullptr;
  thread_local size_t size = 0;
  if (!bottom) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void *b = nullptr;
      if (pthread_attr_getstack(&attr, &b, &size) == 0)
        bottom = b;
      pthread_attr_destroy(&attr);
    }
  }
  ctx.stackBottom = bottom;
  ctx.stackSize = size;
#else
  (void)ctx;
#endif
}

void fiberEntered() {
#ifdef ADJOINT_FIBER_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

#ifdef ADJOINT_FIBER_UCONTEXT

void fiberPrepare(FiberContext &ctx, char *stack, size_t size, void (*entry)()) {
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = stack;
  ctx.uc.uc_stack.ss_size = size;
  ctx.uc.uc_link = nullptr;
  makecontext(&ctx.uc, entry, 0);
  ctx.stackBottom = stack;
  ctx.stackSize = size;
}

#else

void fiberPrepare(FiberContext &ctx, char *stack, size_t size, void (*entry)()) {
  // From the top, 16-byte aligned: a zero slot where entry's return address would be (it never
  // returns), entry's address for the switch's `ret` (so entry starts with the stack aligned as
  // after a call), then six zeros for the registers the switch pops.
  auto top = (reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t(15);
  auto *frame = reinterpret_cast<void **>(top) - 8;
  std::memset(frame, 0, 8 * sizeof(void *));
  frame[6] = reinterpret_cast<void *>(entry);
  ctx.sp = frame;
  ctx.stackBottom = stack;
  ctx.stackSize = size;
}

#endif

void fiberSwitch(FiberContext &from, FiberContext &to, bool last) {
#ifdef ADJOINT_FIBER_ASAN
  // A context that ends hands ASan no place to keep its fake stack: ASan frees it.
  __sanitizer_start_switch_fiber(last ? nullptr : &from.fakeStack, to.stackBottom, to.stackSize);
#else
  (void)last;
#endif
#ifdef ADJOINT_FIBER_UCONTEXT
  swapcontext(&from.uc, &to.uc);
#else
  adj_fiber_switch(&from.sp, to.sp);
#endif
#ifdef ADJOINT_FIBER_ASAN
  __sanitizer_finish_switch_fiber(from.fakeStack, nullptr, nullptr);
#endif
}

} // namespace adjoint::gpu

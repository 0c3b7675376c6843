// FiberSwitch.h: the x86-64 switch, or ucontext.
#include "FiberSwitch.h"

#include <cstdint>
#include <cstring>

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

#ifdef ADJOINT_FIBER_UCONTEXT

void fiberPrepare(FiberContext &ctx, char *stack, size_t size, void (*entry)()) {
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = stack;
  ctx.uc.uc_stack.ss_size = size;
  ctx.uc.uc_link = nullptr;
  makecontext(&ctx.uc, entry, 0);
}

void fiberSwitch(FiberContext &from, FiberContext &to) { swapcontext(&from.uc, &to.uc); }

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
}

void fiberSwitch(FiberContext &from, FiberContext &to) { adj_fiber_switch(&from.sp, to.sp); }

#endif

} // namespace adjoint::gpu

// main() of the executables adjoint-compile --target=cuda --emit=exe links: the trainer with its
// steps on the GPU (or, with --device=emulator, on the host-compiled kernels of the object
// adjoint-compile links beside the model description).
#include "AotTrainer.h"
#include "GpuSession.h"

extern "C" {
// Defined by the emulated kernels' object (GpuAotBuilder in compiler/CodeGen/GpuFunction.h).
extern const uint64_t adj_aot_emu_count;
extern void *const adj_aot_emu_kernels[];
extern void *const adj_aot_emu_errors[];
}

int main(int argc, char **argv) {
  using namespace adjoint::aot;
  return trainerMain(argc, argv, [](Session &s, const std::string &device) {
    EmulatedKernels emu{adj_aot_emu_count, adj_aot_emu_kernels, adj_aot_emu_errors};
    return makeGpuExecutor(s, device, emu);
  });
}

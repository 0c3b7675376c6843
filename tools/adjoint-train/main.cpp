// adjoint-train: trains an ONNX model on a dataset (see --help and README.md).
#include "Options.h"
#include "Trainer.h"
#include "common/ToolSupport.h"

#include <csignal>
#include <iostream>

using namespace adjoint;

// The first Ctrl-C asks the loop to checkpoint and stop after the current step; the handler
// then steps aside, so a second Ctrl-C ends the process at once.
extern "C" void onInterrupt(int) {
  train::gInterrupt = true;
  std::signal(SIGINT, SIG_DFL);
}

int main(int argc, char **argv) {
  return tools::runTool("adjoint-train", [&] {
    train::TrainOptions opts;
    if (!train::parseTrainOptions(argc, argv, opts))
      return 0;
    struct sigaction sa = {};
    sa.sa_handler = onInterrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    train::Trainer trainer(opts, std::cout);
    train::TrainResult r = trainer.run();
    return r.interrupted ? 130 : 0;
  });
}

#pragma once
// adjoint-train's command line.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace adjoint::train {

struct TrainOptions {
  std::string model, data;
  std::string normalize = "auto";
  bool shuffle = true;

  std::string loss = "cross-entropy";
  std::map<std::string, int64_t> dims;
  std::string freeze;

  std::string optimizer = "adam";
  double lr = 0; // 0: the optimizer's default (sgd 0.01, adam/adamw 0.001, rmsprop/adagrad 0.01)
  std::map<std::string, std::string> optimizerOptions;

  std::string schedule = "constant";
  double stepSize = 1;  // step schedule: epochs between decays
  double gamma = 0.1;
  int64_t warmup = -1;  // warmup-cosine: steps (-1: 5% of the run)
  double minLr = 0;

  int64_t batch = 64, epochs = 1, steps = 0; // steps > 0 overrides epochs
  bool batchGiven = false;
  int64_t evalEvery = 0;

  std::string output, checkpoint, resume, plot, log;
  int64_t checkpointEvery = 0;

  std::string backend;       // as given, or the default
  bool backendGiven = false; // without --backend, a step the JIT cannot compile is interpreted
  int threads = 0;
  uint64_t seed = 0;
  bool checkNumerics = false;
  std::string progress = "auto"; // auto | bar | lines | none
  int64_t printEvery = 0;         // lines: 0 = about ten lines per epoch
  int64_t stopAfter = 0;          // act as if interrupted after this step

  double baseLr() const;
};

// Parses argv; returns false when --help was printed.
bool parseTrainOptions(int argc, char **argv, TrainOptions &o);
void printTrainHelp();

} // namespace adjoint::train

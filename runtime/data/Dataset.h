#pragma once
// Datasets for adjoint-train: what `--data SPEC` names, loaded into memory.
//
//   fashion-mnist[=DIR]        the Debian-packaged Fashion-MNIST (IDX .gz files; default DIR
//                              /usr/share/datasets/fashion-mnist, package dataset-fashion-mnist)
//   idx=DIR                    any MNIST-family folder: train-images-idx3-ubyte[.gz],
//                              train-labels-idx1-ubyte[.gz], t10k-images-..., t10k-labels-...
//   x=PATH,y=PATH[,test_x=PATH,test_y=PATH]
//                              array files, each .npy or IDX (plain or .gz), told apart by content
//   csv=PATH[,test_csv=PATH][,label=COL]
//                              CSV rows; COL (default 0, negative from the end) is the label
//   synthetic                  seeded random examples of the model's shapes (see Synthetic.h)
//
// Every form takes `train=N` and `test=N`: use the first N examples (for synthetic data: how
// many to make, default 1024 and 256).
#include "data/Array.h"

#include <optional>
#include <string>

namespace adjoint::data {

struct Split {
  Array x, y; // x: [N, ...] examples; y: [N, ...] labels or targets
  int64_t size() const { return x.rows(); }
};

struct Dataset {
  std::string name; // "fashion-mnist", the files' names, "synthetic"
  Split train;
  std::optional<Split> test;
};

struct DataSpec {
  enum class Kind { Idx, Files, Csv, Synthetic };
  Kind kind = Kind::Idx;
  std::string text; // as given, for messages
  std::string name;
  std::string dir;                          // Idx
  std::string x, y, testX, testY;           // Files
  std::string csv, testCsv;                 // Csv
  int64_t labelColumn = 0;                  // Csv
  int64_t train = -1, test = -1;            // example counts (-1: all, or synthetic's default)
  int64_t classes = 0, vocab = 0;           // Synthetic overrides (0: from the model)
};

extern const char *const kFashionMnistDir;

// Parses a --data value; errors say what was expected.
DataSpec parseDataSpec(const std::string &text);
// Loads every form but Synthetic (see makeSynthetic). Checks that x and y agree in length.
Dataset loadDataset(const DataSpec &spec);
// Reads an array file, .npy or IDX (plain or gzip), by its first bytes.
Array readArrayFile(const std::string &path);

} // namespace adjoint::data

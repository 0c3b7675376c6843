#pragma once
// CSV datasets: one example per line, numbers separated by commas, one column the label (as the
// Kaggle MNIST/Fashion-MNIST files: label first, then the 784 pixels). A first line that is not
// numeric is a header and is skipped.
#include "data/Dataset.h"

namespace adjoint::data {

// labelColumn counts from 0; negative counts from the end (-1: the last column). x is float32
// [rows, columns - 1], y float64 [rows].
Split readCsv(const std::string &path, int64_t labelColumn);
Split parseCsv(const std::string &text, int64_t labelColumn, const std::string &what);

} // namespace adjoint::data

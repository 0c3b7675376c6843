// The model description of the binary this runtime is linked into (kept apart from AotModel.cpp
// so tests can parse descriptions without an object that defines the symbols).
#include "AotModel.h"

namespace adjoint::aot {

const ModelInfo &linkedModel() {
  static const ModelInfo m = parseModel(adj_aot_blob, (size_t)adj_aot_blob_size, adj_aot_entries);
  return m;
}

} // namespace adjoint::aot

#include "ModelFile.h"
#include "Frontend/TensorIO.h"
#include "Support/Error.h"

#include <filesystem>
#include <fstream>
#include <onnx/onnx_pb.h>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace adjoint::train {

struct ModelFile::Proto {
  onnx::ModelProto model;
};

ModelFile::ModelFile(const std::string &path) : path_(path), proto_(std::make_unique<Proto>()) {
  std::error_code ec;
  check(fs::exists(path, ec), path, ": no such file");
  check(!fs::is_directory(path, ec), path, ": is a directory, not an ONNX model");
  check(path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0, path,
        ": adjoint-train takes an ONNX model (.onnx)");
  std::ifstream in(path, std::ios::binary);
  check((bool)in, path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string bytes = ss.str();
  check(!bytes.empty(), path, ": empty file, not an ONNX model");
  check(proto_->model.ParseFromString(bytes), path,
        ": not a valid ONNX model (protobuf parse failed; the file is truncated or not ONNX)");
  std::string base = fs::path(path).parent_path().string();
  baseDir_ = base.empty() ? "." : base;

  const onnx::GraphProto &g = proto_->model.graph();
  std::set<std::string> inits;
  for (const auto &t : g.initializer())
    inits.insert(t.name());
  for (const auto &vi : g.input()) {
    if (inits.count(vi.name()))
      continue;
    ModelInput in;
    in.name = vi.name();
    const auto &tt = vi.type().tensor_type();
    auto dt = dtypeFromOnnx(tt.elem_type());
    in.typeKnown = dt.has_value();
    in.dtype = dt.value_or(DType::F32);
    for (const auto &d : tt.shape().dim()) {
      bool known = d.has_dim_value() && d.dim_value() > 0;
      in.dims.push_back(known ? d.dim_value() : -1);
      in.dimParams.push_back(known ? "" : d.dim_param());
    }
    inputs_.push_back(std::move(in));
  }
}

ModelFile::~ModelFile() = default;

std::vector<std::string> ModelFile::outputNames() const {
  std::vector<std::string> names;
  for (const auto &o : proto_->model.graph().output())
    names.push_back(o.name());
  return names;
}

std::unique_ptr<Module> ModelFile::import(const ImportOptions &opts) const {
  return importOnnxModel(proto_->model, baseDir_, path_, opts);
}

void ModelFile::writeWithInitializers(const std::map<std::string, Tensor> &params,
                                      const std::string &out) const {
  onnx::ModelProto m = proto_->model;
  std::set<std::string> done;
  for (auto &init : *m.mutable_graph()->mutable_initializer()) {
    auto it = params.find(init.name());
    if (it == params.end())
      continue;
    Tensor old = tensorFromProto(init, baseDir_, path_ + ": initializer '" + init.name() + "'");
    check(old.dtype() == it->second.dtype() && old.shape() == it->second.shape(),
          "internal error: trained parameter '", init.name(), "' is ",
          TensorType{it->second.dtype(), it->second.shape()}.str(), " but the initializer is ",
          TensorType{old.dtype(), old.shape()}.str());
    std::string name = init.name();
    tensorToProto(it->second, init); // clears external-data fields too
    init.set_name(name);
    done.insert(name);
  }
  for (const auto &[name, t] : params)
    check(done.count(name), "internal error: parameter '", name, "' is not an initializer of ",
          path_);
  std::string bytes;
  check(m.SerializeToString(&bytes), out, ": cannot serialize the trained model");
  writeFileAtomic(out, bytes);
}

} // namespace adjoint::train

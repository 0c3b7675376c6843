// The size limit on tensors read from untrusted files (Frontend/TensorIO.h's maxTensorBytes):
// declared sizes that overflow or pass the limit are refused before allocation, in .npy and .pb
// bytes and in every place the importer meets a shape (initializers, inputs, op results).
#include "Frontend/OnnxImporter.h"
#include "Frontend/TensorIO.h"
#include "Support/Error.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

using namespace adjoint;

namespace {

std::string errorOf(const std::function<void()> &f) {
  try {
    f();
  } catch (const Error &e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_CONTAINS(haystack, needle)                                                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)                                 \
      << "'" << (haystack) << "' does not contain '" << (needle) << "'"

// Restores the process-wide limit whatever a test sets.
class TensorLimitsTest : public testing::Test {
protected:
  void TearDown() override { setMaxTensorBytes(kDefaultMaxTensorBytes); }
};

std::string npyHeaderOnly(const std::string &shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }\n";
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += (char)(dict.size() & 0xff);
  out += (char)(dict.size() >> 8);
  return out + dict;
}

// y = x + w with w's dims as given and no data: only the declaration is there to check.
std::string modelWithInitializerDims(const std::vector<int64_t> &dims, int64_t inputSize = 4) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto &g = *m.mutable_graph();
  onnx::NodeProto &n = *g.add_node();
  n.set_op_type("Add");
  n.set_name("add");
  n.add_input(std::string("x"));
  n.add_input(std::string("w"));
  n.add_output(std::string("y"));
  for (const char *name : {"x", "y"}) {
    onnx::ValueInfoProto &v = name[0] == 'x' ? *g.add_input() : *g.add_output();
    v.set_name(name);
    v.mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    if (name[0] == 'x')
      v.mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(inputSize);
  }
  onnx::TensorProto &w = *g.add_initializer();
  w.set_name("w");
  w.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims)
    w.add_dims(d);
  return m.SerializeAsString();
}

} // namespace

TEST_F(TensorLimitsTest, CheckedBytesCountsAndRefuses) {
  EXPECT_EQ(checkedTensorBytes(DType::F64, {3, 4}, "t"), 96u);
  EXPECT_EQ(checkedTensorBytes(DType::F32, {0, 7}, "t"), 0u);
  EXPECT_CONTAINS(errorOf([] { checkedTensorBytes(DType::F32, {int64_t{1} << 62}, "t"); }),
                  "byte size overflows");
  EXPECT_CONTAINS(errorOf([] { checkedTensorBytes(DType::F32, {1 << 30, 1 << 30, 1 << 30}, "t"); }),
                  "overflows");
  EXPECT_CONTAINS(errorOf([] { checkedTensorBytes(DType::F32, {-1}, "t"); }), "negative");
  // The default limit.
  EXPECT_CONTAINS(errorOf([] { checkedTensorBytes(DType::F32, {int64_t{1} << 31}, "t"); }),
                  "more than the limit of 4294967296");
  setMaxTensorBytes(16);
  EXPECT_EQ(checkedTensorBytes(DType::F32, {4}, "t"), 16u);
  std::string msg = errorOf([] { checkedTensorBytes(DType::F32, {5}, "weights"); });
  EXPECT_CONTAINS(msg, "weights: tensor f32[5] needs 20 bytes, more than the limit of 16");
  EXPECT_CONTAINS(msg, "--max-tensor-bytes");
}

// The header promises a terabyte; the file holds none of it. Refused by the limit, which comes
// before the truncation check and before any allocation.
TEST_F(TensorLimitsTest, NpyHeaderOverLimit) {
  std::string msg = errorOf([] { parseNpy(npyHeaderOnly("(1000000000000,)"), "big.npy"); });
  EXPECT_CONTAINS(msg, "big.npy: tensor f32[1000000000000] needs 4000000000000 bytes");
  EXPECT_CONTAINS(errorOf([] { parseNpy(npyHeaderOnly("(3000000000, 4000000000, 5000000000)"),
                                        "o.npy"); }),
                  "o.npy: bad tensor shape: element count of shape [3000000000,4000000000,5000000000] overflows");
  EXPECT_CONTAINS(errorOf([] { parseNpy(npyHeaderOnly("(3,)"), "short.npy"); }), "truncated");
}

TEST_F(TensorLimitsTest, TensorProtoOverLimit) {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::DOUBLE);
  p.add_dims(1 << 20);
  p.add_dims(1 << 20);
  std::string msg = errorOf([&] { parseTensorProto(p.SerializeAsString(), ".", "t.pb"); });
  EXPECT_CONTAINS(msg, "t.pb: tensor f64[1048576,1048576] needs 8796093022208 bytes");
}

TEST_F(TensorLimitsTest, ImporterChecksInitializersBeforeShapeInference) {
  // Without the early check, ONNX shape inference would answer first, about broadcasting.
  std::string msg = errorOf([] {
    importOnnxBytes(modelWithInitializerDims({1 << 20, 1 << 20}), ".", "m.onnx");
  });
  EXPECT_CONTAINS(msg, "m.onnx: initializer 'w': tensor f32[1048576,1048576]");
  EXPECT_CONTAINS(msg, "more than the limit");
}

TEST_F(TensorLimitsTest, ImporterChecksInputsAndResults) {
  setMaxTensorBytes(64);
  // w f32[4] and x f32[32]: the input is over the limit.
  EXPECT_CONTAINS(errorOf([] { importOnnxBytes(modelWithInitializerDims({4}, 32), ".", "m.onnx"); }),
                  "m.onnx: input 'x': tensor f32[32] needs 128 bytes");
  // x f32[4] + w f32[8,4]: w is 128 bytes.
  setMaxTensorBytes(100);
  EXPECT_CONTAINS(errorOf([] { importOnnxBytes(modelWithInitializerDims({8, 4}), ".", "m.onnx"); }),
                  "initializer 'w'");
}

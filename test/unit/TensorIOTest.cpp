// Tensors on disk: .npy round trips for every dtype, hand-written headers numpy could produce
// (versions 2 and 3, Fortran order), malformed files, and ONNX TensorProto .pb files with raw
// and typed data.
#include "Frontend/TensorIO.h"
#include "Support/Error.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

using namespace adjoint;
namespace fs = std::filesystem;

namespace {

std::string tempPath(const std::string &name) {
  static int counter = 0;
  fs::path dir = fs::path(testing::TempDir()) /
                 ("tensorio_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::create_directories(dir);
  return (dir / name).string();
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A .npy file with the given header dict and data, in format version `major`.
std::string npyBytes(const std::string &dict, const std::string &data, int major = 1) {
  std::string header = dict + "\n";
  std::string out = "\x93NUMPY";
  out += (char)major;
  out += '\0';
  size_t n = header.size();
  for (int k = 0; k < (major == 1 ? 2 : 4); ++k)
    out += (char)((n >> (8 * k)) & 0xff);
  return out + header + data;
}

template <typename T> std::string rawOf(const std::vector<T> &v) {
  return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(T));
}

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

} // namespace

TEST(Npy, RoundTripsEveryDType) {
  std::vector<Tensor> ts = {
      Tensor::fromVector<float>({2, 3}, {1.5f, -2.f, 0.f, 3.25f, 1e30f, -0.f}),
      Tensor::fromVector<double>({3}, {1e-300, -2.5, 3.0}),
      Tensor::fromVector<int64_t>({2, 2}, {INT64_MIN, -1, 0, INT64_MAX}),
      Tensor::fromVector<int32_t>({1, 1, 3}, {-7, 0, 7}),
      Tensor::fromVector<bool>({4}, {true, false, false, true}),
      Tensor::scalar<float>(42.f),
      Tensor(DType::F32, {0, 5}),
  };
  for (const Tensor &t : ts) {
    SCOPED_TRACE(std::string(dtypeName(t.dtype())) + shapeStr(t.shape()));
    std::string path = tempPath("t.npy");
    writeNpy(path, t);
    Tensor back = readNpy(path);
    EXPECT_TRUE(back.identical(t));
    EXPECT_TRUE(readTensorFile(path).identical(t));
    // numpy aligns the data to 64 bytes.
    EXPECT_EQ((fs::file_size(path) - t.byteSize()) % 64, 0u);
    EXPECT_FALSE(fs::exists(path + ".tmp-" + std::to_string(::getpid())));
  }
}

TEST(Npy, ReadsVersions2And3) {
  for (int major : {2, 3}) {
    std::string path = tempPath("v.npy");
    writeBytes(path, npyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                              rawOf<int32_t>({5, -6}), major));
    EXPECT_TRUE(readNpy(path).identical(Tensor::fromVector<int32_t>({2}, {5, -6})));
  }
}

TEST(Npy, FortranOrderIsTransposedIntoRowMajor) {
  std::string path = tempPath("f.npy");
  // [[1,2,3],[4,5,6]] stored column by column.
  writeBytes(path, npyBytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                            rawOf<double>({1, 4, 2, 5, 3, 6})));
  EXPECT_TRUE(readNpy(path).identical(Tensor::fromVector<double>({2, 3}, {1, 2, 3, 4, 5, 6})));
}

TEST(Npy, HeaderKeysInAnyOrderAndQuoting) {
  std::string path = tempPath("k.npy");
  writeBytes(path, npyBytes("{\"shape\": (1, 2), \"fortran_order\": False, \"descr\": \"<f4\"}",
                            rawOf<float>({1.f, 2.f})));
  EXPECT_TRUE(readNpy(path).identical(Tensor::fromVector<float>({1, 2}, {1.f, 2.f})));
}

TEST(Npy, BadFilesAreErrorsNamingTheFile) {
  std::string path = tempPath("bad.npy");
  struct Case {
    std::string bytes, needle;
  };
  std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  std::vector<Case> cases = {
      {"", "bad magic"},
      {"not numpy at all", "bad magic"},
      {npyBytes(ok, rawOf<float>({1.f})), "truncated .npy data"},
      {npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", "abcd"),
       "unsupported .npy dtype '<f2'"},
      {npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "abcdefgh"),
       "'>f4'"},
      {npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "abcdefgh"), "'|O'"},
      {npyBytes("{'descr': '<f4', 'shape': (2,), }", ""), "missing"},
      {npyBytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", ""), "True or False"},
      {npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", ""), "dimension"},
      {npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,", ""), "malformed"},
      {npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000000000), }",
                ""),
       path},
      {npyBytes(ok, "", 9), "version 9"},
      {std::string("\x93NUMPY\x01\x00\xff\xff", 10), "truncated .npy header"},
  };
  for (const Case &c : cases) {
    writeBytes(path, c.bytes);
    std::string msg = errorOf([&] { readNpy(path); });
    EXPECT_CONTAINS(msg, path);
    EXPECT_CONTAINS(msg, c.needle);
  }
  EXPECT_CONTAINS(errorOf([&] { readNpy(tempPath("missing.npy")); }), "missing.npy");
  EXPECT_CONTAINS(errorOf([&] { readTensorFile(tempPath("x.txt")); }), ".txt");
}

TEST(TensorProto, ReadsRawAndTypedFields) {
  struct Case {
    onnx::TensorProto proto;
    Tensor want;
  };
  std::vector<Case> cases;
  auto add = [&](int type, Shape dims, Tensor want, auto fill) {
    Case c;
    c.proto.set_data_type(type);
    for (int64_t d : dims)
      c.proto.add_dims(d);
    fill(c.proto);
    c.want = want;
    cases.push_back(c);
  };
  add(onnx::TensorProto::FLOAT, {2}, Tensor::fromVector<float>({2}, {1.5f, -2.f}),
      [](auto &p) { p.add_float_data(1.5f), p.add_float_data(-2.f); });
  add(onnx::TensorProto::DOUBLE, {1}, Tensor::fromVector<double>({1}, {0.1}),
      [](auto &p) { p.add_double_data(0.1); });
  add(onnx::TensorProto::INT64, {2}, Tensor::fromVector<int64_t>({2}, {-3, 1LL << 40}),
      [](auto &p) { p.add_int64_data(-3), p.add_int64_data(1LL << 40); });
  add(onnx::TensorProto::INT32, {}, Tensor::scalar<int32_t>(-9),
      [](auto &p) { p.add_int32_data(-9); });
  add(onnx::TensorProto::BOOL, {3}, Tensor::fromVector<bool>({3}, {true, false, true}),
      [](auto &p) { p.add_int32_data(1), p.add_int32_data(0), p.add_int32_data(1); });
  // Raw data, as written by tensorToProto and by numpy_helper.from_array.
  for (const Tensor &t : {Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4}),
                          Tensor::fromVector<bool>({2}, {false, true}),
                          Tensor::fromVector<int32_t>({1}, {77})}) {
    Case c;
    tensorToProto(t, c.proto);
    EXPECT_TRUE(c.proto.has_raw_data());
    c.want = t;
    cases.push_back(c);
  }
  for (Case &c : cases) {
    SCOPED_TRACE(c.proto.DebugString());
    c.proto.set_name("t");
    std::string path = tempPath("t.pb");
    writeBytes(path, c.proto.SerializeAsString());
    EXPECT_TRUE(readTensorProtoFile(path).identical(c.want));
    EXPECT_TRUE(readTensorFile(path).identical(c.want));
  }
}

TEST(TensorProto, BadTensorsAreErrorsNamingTheFile) {
  std::string path = tempPath("bad.pb");
  auto errorFor = [&](const onnx::TensorProto &p) {
    writeBytes(path, p.SerializeAsString());
    return errorOf([&] { readTensorProtoFile(path); });
  };
  onnx::TensorProto f16;
  f16.set_data_type(onnx::TensorProto::FLOAT16);
  f16.add_dims(1);
  f16.set_raw_data("ab");
  std::string msg = errorFor(f16);
  EXPECT_CONTAINS(msg, path);
  EXPECT_CONTAINS(msg, "FLOAT16");

  onnx::TensorProto shortRaw;
  shortRaw.set_data_type(onnx::TensorProto::FLOAT);
  shortRaw.add_dims(3);
  shortRaw.set_raw_data(std::string(8, '\0'));
  EXPECT_CONTAINS(errorFor(shortRaw), "8 bytes");

  onnx::TensorProto fewValues;
  fewValues.set_data_type(onnx::TensorProto::INT64);
  fewValues.add_dims(3);
  fewValues.add_int64_data(1);
  EXPECT_CONTAINS(errorFor(fewValues), "holds 1 values");

  onnx::TensorProto huge;
  huge.set_data_type(onnx::TensorProto::FLOAT);
  huge.add_dims(1LL << 40);
  huge.add_dims(1LL << 40);
  EXPECT_CONTAINS(errorFor(huge), path);

  writeBytes(path, "\xff\xff\xff garbage");
  EXPECT_CONTAINS(errorOf([&] { readTensorProtoFile(path); }), path);
}

TEST(TensorProto, ExternalDataRelativeToTheFile) {
  std::string path = tempPath("ext.pb");
  fs::path dir = fs::path(path).parent_path();
  Tensor want = Tensor::fromVector<int64_t>({2}, {11, -12});
  std::ofstream(dir / "data.bin", std::ios::binary)
      << "pad" << std::string(reinterpret_cast<const char *>(want.bytes()), want.byteSize());
  onnx::TensorProto p;
  p.set_name("ext");
  p.set_data_type(onnx::TensorProto::INT64);
  p.add_dims(2);
  p.set_data_location(onnx::TensorProto::EXTERNAL);
  auto kv = [&](const char *k, const std::string &v) {
    auto *e = p.add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  kv("location", "data.bin");
  kv("offset", "3");
  kv("length", "16");
  EXPECT_TRUE(tensorFromProto(p, dir.string(), "ext").identical(want));

  p.mutable_external_data(2)->set_value("15");
  EXPECT_CONTAINS(errorOf([&] { tensorFromProto(p, dir.string(), "ext"); }), "length 15");
  p.mutable_external_data(2)->set_value("16");
  p.mutable_external_data(1)->set_value("4");
  EXPECT_CONTAINS(errorOf([&] { tensorFromProto(p, dir.string(), "ext"); }), "too short");
  p.mutable_external_data(0)->set_value("../data.bin");
  EXPECT_CONTAINS(errorOf([&] { tensorFromProto(p, dir.string(), "ext"); }), "inside");
}

TEST(WriteFileAtomic, ReplacesTheFileWhole) {
  std::string path = tempPath("a.txt");
  writeFileAtomic(path, "first version, longer");
  writeFileAtomic(path, "second");
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(s, "second");
  EXPECT_CONTAINS(errorOf([&] { writeFileAtomic(tempPath("a") + "/no/such/dir/f", "x"); }),
                  "no/such/dir/f");
}

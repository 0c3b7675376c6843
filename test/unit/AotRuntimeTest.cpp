// The AOT runtime's pieces that read or write bytes (runtime/aot): exporting trained
// initializers into ONNX wire format, the embedded model description, and checkpoints. Every bad
// input must be a std::runtime_error with a message, never a crash.
#include "AotCheckpoint.h"
#include "AotModel.h"
#include "AotSession.h"
#include "Frontend/OnnxImporter.h"
#include "OnnxSplice.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace adjoint;
using namespace adjoint::aot;

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kMlp = std::string(ADJOINT_SOURCE_DIR) + "/models/fashion_mlp.onnx";

template <typename F> std::string errorOf(F &&f) {
  try {
    f();
  } catch (const std::runtime_error &e) {
    return e.what();
  }
  return "(no error)";
}

TEST(AotSplice, ReplacesNamedInitializersAndKeepsTheRest) {
  std::string model = readFile(kMlp);
  std::vector<float> bias(10), weight(10 * 256, 0.5f);
  for (int i = 0; i < 10; ++i)
    bias[(size_t)i] = (float)i;
  std::map<std::string, SpliceTensor> t = {
      {"4.bias", {kFloat, {10}, bias.data(), bias.size() * 4}},
      {"4.weight", {kFloat, {10, 256}, weight.data(), weight.size() * 4}}};
  std::string out = spliceInitializers(model, t, "fashion_mlp.onnx");
  ImportOptions io;
  io.dims["batch"] = 2;
  auto m = importOnnxBytes(out, ".", "spliced", io);
  auto before = importOnnxBytes(model, ".", "original", io);
  const Function &f = *m->main(), &g = *before->main();
  ASSERT_EQ(f.params().size(), g.params().size());
  for (Value *p : f.params()) {
    const Tensor &d = p->paramData();
    if (p->name() == "4.bias") {
      for (int i = 0; i < 10; ++i)
        EXPECT_EQ(d.data<float>()[i], (float)i);
    } else if (p->name() == "4.weight") {
      EXPECT_EQ(d.data<float>()[2559], 0.5f);
    } else {
      const Tensor &o = g.findArg(p->name())->paramData();
      ASSERT_EQ(d.byteSize(), o.byteSize());
      EXPECT_EQ(0, std::memcmp(d.bytes(), o.bytes(), d.byteSize())) << p->name();
    }
  }
  // The graph is otherwise the same: same ops, same symbolic input.
  EXPECT_EQ(f.ops().size(), g.ops().size());
}

TEST(AotSplice, RefusesWhatDoesNotFit) {
  std::string model = readFile(kMlp);
  std::vector<float> v(20);
  EXPECT_NE(errorOf([&] {
              spliceInitializers(model, {{"4.bias", {kFloat, {20}, v.data(), 80}}}, "m");
            }).find("'4.bias' does not match its initializer's type or shape"),
            std::string::npos);
  EXPECT_NE(errorOf([&] {
              spliceInitializers(model, {{"4.bias", {kDouble, {10}, v.data(), 80}}}, "m");
            }).find("does not match"),
            std::string::npos);
  EXPECT_NE(errorOf([&] {
              spliceInitializers(model, {{"nope", {kFloat, {1}, v.data(), 4}}}, "m");
            }).find("'nope' names no initializer"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { spliceInitializers("\xff\xff\xff", {}, "m"); }).find("not valid protobuf"),
            std::string::npos);
  // Every prefix of the model is an error or a model without the graph, never a crash.
  for (size_t n : {size_t(1), size_t(7), size_t(100), model.size() / 2, model.size() - 1})
    EXPECT_NE(errorOf([&] { spliceInitializers(model.substr(0, n), {}, "m"); }), "(no error)")
        << n;
}

// A description with two parameters and no steps, as adjoint-compile would write one.
std::string smallBlob() {
  BlobWriter w;
  w.raw(kBlobMagic, sizeof kBlobMagic);
  w.pod<uint32_t>(kBlobVersion);
  std::map<std::string, std::string> config = {{"data_input", "x"}, {"loss_kind", "mse"},
                                               {"batch", "4"},      {"optimizer", "sgd"},
                                               {"loss", "mse"},     {"model", "tiny.onnx"}};
  w.pod<uint32_t>((uint32_t)config.size());
  for (const auto &[k, v] : config) {
    w.str(k);
    w.str(v);
  }
  w.pod<int32_t>(kFloat);
  w.shape({3});
  w.pod<int32_t>(kFloat);
  w.shape({1});
  w.pod<int64_t>(0);
  w.pod<uint32_t>(2);
  float a[3] = {1, 2, 3}, b = 4;
  w.str("a");
  w.pod<int32_t>(kFloat);
  w.shape({3});
  w.bytes(a, sizeof a);
  w.str("b");
  w.pod<int32_t>(kFloat);
  w.shape({});
  w.bytes(&b, sizeof b);
  w.pod<uint32_t>(1); // optimizer state
  w.str("momentum.a");
  w.pod<int32_t>(kFloat);
  w.shape({3});
  w.pod<uint32_t>(0); // steps
  w.str("not really onnx");
  return w.data();
}

TEST(AotModel, ParsesADescriptionAndRefusesDamagedOnes) {
  std::string blob = smallBlob();
  ModelInfo m = parseModel(blob.data(), blob.size(), nullptr);
  EXPECT_EQ(m.batch(), 4);
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0].describe(), "float32[3]");
  EXPECT_EQ(m.state[0].name, "momentum.a");
  for (size_t n = 0; n < blob.size(); ++n)
    EXPECT_NE(errorOf([&] { parseModel(blob.data(), n, nullptr); }), "(no error)") << n;
  std::string bad = blob;
  bad[0] = 'X';
  EXPECT_NE(errorOf([&] { parseModel(bad.data(), bad.size(), nullptr); }).find("magic"),
            std::string::npos);
  std::string longer = blob + "x";
  EXPECT_NE(errorOf([&] { parseModel(longer.data(), longer.size(), nullptr); }).find("trailing"),
            std::string::npos);
}

TEST(AotCheckpoint, RoundTripsAndDetectsDamage) {
  std::string blob = smallBlob();
  ModelInfo m = parseModel(blob.data(), blob.size(), nullptr);
  std::string dir = ::testing::TempDir();
  std::string path = dir + "/aot-runtime-test.ckpt";
  Session s(m);
  float *a = reinterpret_cast<float *>(s.param("a").data());
  a[1] = 42;
  reinterpret_cast<float *>(s.state("momentum.a").data())[2] = -1;
  writeCheckpoint(path, s, {{"step", "7"}});

  Session r(m);
  auto meta = readCheckpoint(path, r);
  EXPECT_EQ(meta["step"], "7");
  EXPECT_EQ(reinterpret_cast<float *>(r.param("a").data())[1], 42);
  EXPECT_EQ(reinterpret_cast<float *>(r.state("momentum.a").data())[2], -1);

  std::string bytes = readFile(path);
  auto damaged = [&](const std::string &b) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << b;
    Session t(m);
    return errorOf([&] { readCheckpoint(path, t); });
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 1;
  EXPECT_NE(damaged(flipped).find("checksum mismatch"), std::string::npos);
  EXPECT_NE(damaged(bytes.substr(0, bytes.size() - 3)).find("truncated"), std::string::npos);
  EXPECT_NE(damaged("hello").find("not a checkpoint"), std::string::npos);
  std::string version = bytes;
  version[8] = 9;
  EXPECT_NE(damaged(version).find("format version 9"), std::string::npos);
  for (size_t n = 0; n < bytes.size(); n += 7)
    EXPECT_NE(damaged(bytes.substr(0, n)), "(no error)") << n;

  // A checkpoint of another compilation (here: another batch) is refused.
  std::string other = smallBlob();
  size_t at = other.find("batch");
  ASSERT_NE(at, std::string::npos);
  other[at + 5 + 8] = '8'; // the value string "4" after its u64 length
  ModelInfo m8 = parseModel(other.data(), other.size(), nullptr);
  ASSERT_EQ(m8.batch(), 8);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  Session t(m8);
  EXPECT_NE(errorOf([&] { readCheckpoint(path, t); }).find("another model or compilation"),
            std::string::npos);
  std::filesystem::remove(path);
}

} // namespace

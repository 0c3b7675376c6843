// adjoint-train's dataset library (runtime/data): IDX plain and gzipped, .npy, CSV, the --data
// forms, the Debian Fashion-MNIST, seeded shuffling and synthetic data, normalisation and the
// prefetching batch loader — and every loader's errors.
#include "data/BatchLoader.h"
#include "data/Csv.h"
#include "data/DataError.h"
#include "data/Dataset.h"
#include "data/FileBytes.h"
#include "data/Idx.h"
#include "data/Normalize.h"
#include "data/Npy.h"
#include "data/Shuffle.h"
#include "data/Synthetic.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

using namespace adjoint::data;
namespace fs = std::filesystem;

namespace {

std::string tempDir() {
  static int counter = 0;
  fs::path dir = fs::path(testing::TempDir()) /
                 ("datatest_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::create_directories(dir);
  return dir.string();
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void writeGz(const std::string &path, const std::string &bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), (unsigned)bytes.size()), (int)bytes.size());
  gzclose(f);
}

std::string be32(uint32_t v) {
  return {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
}

// An IDX file of uint8 values 0, 1, 2, ... with the given dims.
std::string idxU8(const std::vector<uint32_t> &dims) {
  std::string s{'\0', '\0', '\x08', (char)dims.size()};
  size_t n = 1;
  for (uint32_t d : dims) {
    s += be32(d);
    n *= d;
  }
  for (size_t i = 0; i < n; ++i)
    s += (char)(i % 256);
  return s;
}

std::string npyBytes(const std::string &dict, const std::string &data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += (char)(header.size() & 0xff);
  out += (char)(header.size() >> 8);
  return out + header + data;
}

template <typename T> std::string raw(const std::vector<T> &v) {
  return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(T));
}

template <typename F> std::string errorOf(F &&f) {
  try {
    f();
  } catch (const DataError &e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST(Idx, PlainAndGzipReadTheSame) {
  std::string dir = tempDir();
  std::string bytes = idxU8({3, 2, 4});
  writeBytes(dir + "/a-idx3-ubyte", bytes);
  writeGz(dir + "/a-idx3-ubyte.gz", bytes);
  Array plain = readIdx(dir + "/a-idx3-ubyte"), gz = readIdx(dir + "/a-idx3-ubyte.gz");
  EXPECT_EQ(plain.type, ElemType::U8);
  EXPECT_EQ(plain.shape, (std::vector<int64_t>{3, 2, 4}));
  EXPECT_EQ(plain.rowSize(), 8);
  EXPECT_EQ(plain.bytes, gz.bytes);
  EXPECT_EQ(gz.at(23), 23);
}

TEST(FileBytes, LimitHoldsWhileInflating) {
  std::string dir = tempDir();
  std::string big(3 << 20, '\0'); // 3 MiB of zeros: about 3 kB of gzip
  writeGz(dir + "/zeros.gz", big);
  writeBytes(dir + "/zeros", big);
  ASSERT_LT(fs::file_size(dir + "/zeros.gz"), 64u << 10);
  uint64_t saved = maxFileBytes();
  setMaxFileBytes(1 << 20);
  std::string gz = errorOf([&] { readFileBytes(dir + "/zeros.gz"); });
  std::string plain = errorOf([&] { readFileBytes(dir + "/zeros"); });
  setMaxFileBytes(3 << 20);
  EXPECT_EQ(readFileBytes(dir + "/zeros.gz").size(), big.size()); // exactly at the limit
  setMaxFileBytes(saved);
  EXPECT_NE(gz.find("zeros.gz: holds more than 1048576 bytes (uncompressed), the limit"),
            std::string::npos)
      << gz;
  EXPECT_NE(plain.find("zeros: holds more than 1048576 bytes"), std::string::npos) << plain;
}

TEST(FileBytes, ByteSizes) {
  std::string why;
  EXPECT_EQ(parseByteSize("100", &why), 100u);
  EXPECT_EQ(parseByteSize("4K", &why), 4096u);
  EXPECT_EQ(parseByteSize("1m", &why), 1u << 20);
  EXPECT_EQ(parseByteSize("2G", &why), uint64_t(2) << 30);
  for (auto [text, reason] : {std::pair{"", "is not a number"}, {"x", "is not a number"}, {"1T", "is not a number"},
                              {"0", "must be positive"}, {"-3K", "must be positive"},
                              {"9223372036854775807G", "is too large"}}) {
    EXPECT_FALSE(parseByteSize(text, &why)) << text;
    EXPECT_EQ(why, reason) << text;
  }
}

TEST(Idx, BigEndianElements) {
  std::string s{'\0', '\0', '\x0D', '\x01'};
  s += be32(2);
  float vals[2] = {1.5f, -2.25f};
  for (float v : vals) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    s += be32(bits);
  }
  Array a = parseIdx(std::vector<uint8_t>(s.begin(), s.end()), "f");
  EXPECT_EQ(a.type, ElemType::F32);
  EXPECT_EQ(a.at(0), 1.5);
  EXPECT_EQ(a.at(1), -2.25);

  std::string i{'\0', '\0', '\x0C', '\x01'};
  i += be32(1) + be32((uint32_t)-7);
  Array b = parseIdx(std::vector<uint8_t>(i.begin(), i.end()), "i");
  EXPECT_EQ(b.at(0), -7);
}

TEST(Idx, Errors) {
  auto parse = [](std::string s) {
    return errorOf([&] { parseIdx(std::vector<uint8_t>(s.begin(), s.end()), "x.idx"); });
  };
  EXPECT_NE(parse("PK\x03\x04").find("not an IDX file"), std::string::npos);
  EXPECT_NE(parse(std::string("\0\0\x07\x01", 4) + be32(1) + "a").find("unknown IDX element type"),
            std::string::npos);
  std::string full = idxU8({4, 3});
  EXPECT_NE(parse(full.substr(0, full.size() - 1)).find("truncated"), std::string::npos);
  EXPECT_NE(parse(full.substr(0, 6)).find("truncated IDX header"), std::string::npos);
  EXPECT_NE(parse(full + "zz").find("2 unexpected bytes"), std::string::npos);

  std::string dir = tempDir();
  EXPECT_NE(errorOf([&] { readIdx(dir + "/missing"); }).find("cannot open"), std::string::npos);
  // A gzip stream cut short.
  std::string big = idxU8({300, 300});
  writeGz(dir + "/t.gz", big);
  std::ifstream in(dir + "/t.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  writeBytes(dir + "/cut.gz", gz.substr(0, gz.size() / 2));
  std::string err = errorOf([&] { readIdx(dir + "/cut.gz"); });
  EXPECT_TRUE(err.find("truncated") != std::string::npos ||
              err.find("corrupt") != std::string::npos)
      << err;
}

TEST(Npy, ReadsCommonTypes) {
  Array f = parseNpy(
      [] {
        std::string s = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                 raw<float>({1, 2, 3, 4, 5, 6}));
        return std::vector<uint8_t>(s.begin(), s.end());
      }(),
      "f.npy");
  EXPECT_EQ(f.type, ElemType::F32);
  EXPECT_EQ(f.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.at(5), 6);
  std::string s = npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                           raw<int64_t>({7, -1, 9}));
  Array i = parseNpy(std::vector<uint8_t>(s.begin(), s.end()), "i.npy");
  EXPECT_EQ(i.type, ElemType::I64);
  EXPECT_EQ(i.at(1), -1);
  s = npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 2), }",
               "\x01\x02\x03\xff");
  Array u = parseNpy(std::vector<uint8_t>(s.begin(), s.end()), "u.npy");
  EXPECT_EQ(u.rowSize(), 2);
  EXPECT_EQ(u.at(3), 255);
}

TEST(Npy, Errors) {
  auto parse = [](const std::string &s) {
    return errorOf([&] { parseNpy(std::vector<uint8_t>(s.begin(), s.end()), "a.npy"); });
  };
  EXPECT_NE(parse("hello world").find("not a .npy file"), std::string::npos);
  EXPECT_NE(parse(npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                           raw<float>({1, 2, 3, 4})))
                .find("Fortran-order"),
            std::string::npos);
  EXPECT_NE(parse(npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "abcd"))
                .find("big-endian"),
            std::string::npos);
  EXPECT_NE(parse(npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "12345678"))
                .find("unsupported .npy dtype"),
            std::string::npos);
  EXPECT_NE(parse(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", "12345678"))
                .find("truncated"),
            std::string::npos);
  EXPECT_NE(parse(npyBytes("{'descr': '<f4', 'fortran_order': False}", "1234")).find("'shape'"),
            std::string::npos);
}

TEST(Csv, HeaderAndLabelColumn) {
  Split s = parseCsv("label,p1,p2\n3,0.5,1\n1, 2 ,-4\r\n\n", 0, "d.csv");
  EXPECT_EQ(s.x.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(s.y.at(0), 3);
  EXPECT_EQ(s.y.at(1), 1);
  EXPECT_EQ(s.x.at(2), 2);
  EXPECT_EQ(s.x.at(3), -4);
  Split last = parseCsv("0.5,1,3\n2,-4,1\n", -1, "d.csv");
  EXPECT_EQ(last.y.at(0), 3);
  EXPECT_EQ(last.x.at(1), 1);
}

TEST(Csv, Errors) {
  auto parse = [](const std::string &text, int64_t col = 0) {
    return errorOf([&] { parseCsv(text, col, "d.csv"); });
  };
  EXPECT_NE(parse("1,2,3\n4,5\n").find("d.csv:2: 2 columns, but the first row has 3"),
            std::string::npos);
  EXPECT_NE(parse("1,2\n3,x\n").find("d.csv:2: column 2 is not a number"), std::string::npos);
  EXPECT_NE(parse("a,b\n").find("no data rows"), std::string::npos);
  EXPECT_NE(parse("1\n2\n").find("at least two columns"), std::string::npos);
  EXPECT_NE(parse("1,2\n", 5).find("label column 5 is out of range"), std::string::npos);
}

TEST(DataSpec, Forms) {
  DataSpec f = parseDataSpec("fashion-mnist,train=500,test=100");
  EXPECT_EQ(f.kind, DataSpec::Kind::Idx);
  EXPECT_EQ(f.dir, kFashionMnistDir);
  EXPECT_EQ(f.train, 500);
  EXPECT_EQ(f.test, 100);
  DataSpec p = parseDataSpec("x=a.npy,y=b.npy,test_x=c.npy,test_y=d.npy");
  EXPECT_EQ(p.kind, DataSpec::Kind::Files);
  EXPECT_EQ(p.testY, "d.npy");
  DataSpec c = parseDataSpec("csv=t.csv,test_csv=v.csv,label=-1");
  EXPECT_EQ(c.kind, DataSpec::Kind::Csv);
  EXPECT_EQ(c.labelColumn, -1);
  EXPECT_EQ(parseDataSpec("synthetic,classes=3").classes, 3);
  EXPECT_EQ(parseDataSpec("idx=/some/dir").dir, "/some/dir");
}

TEST(DataSpec, Errors) {
  auto err = [](const std::string &s) { return errorOf([&] { parseDataSpec(s); }); };
  EXPECT_NE(err("mnist").find("unknown item 'mnist'"), std::string::npos);
  EXPECT_NE(err("x=a.npy").find("x=PATH and y=PATH are both required"), std::string::npos);
  EXPECT_NE(err("x=a.npy,y=b.npy,test_x=c.npy").find("together"), std::string::npos);
  EXPECT_NE(err("synthetic,csv=a.csv").find("mixes two kinds"), std::string::npos);
  EXPECT_NE(err("fashion-mnist,train=-3").find("non-negative"), std::string::npos);
  EXPECT_NE(err("fashion-mnist,label=2").find("csv= data only"), std::string::npos);
  EXPECT_NE(err("").find("empty"), std::string::npos);
  EXPECT_NE(err("train=5").find("names no dataset"), std::string::npos);
}

TEST(Dataset, FilePairsByContentAndLimits) {
  std::string dir = tempDir();
  writeBytes(dir + "/x.npy", npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }",
                                      raw<float>({0, 1, 2, 3, 4, 5, 6, 7})));
  writeGz(dir + "/y.idx.gz",
          std::string("\0\0\x08\x01", 4) + be32(4) + std::string("\x01\x00\x01\x02", 4));
  Dataset d = loadDataset(parseDataSpec("x=" + dir + "/x.npy,y=" + dir + "/y.idx.gz,train=3"));
  EXPECT_EQ(d.train.size(), 3);
  EXPECT_EQ(d.train.y.at(2), 1);
  EXPECT_FALSE(d.test.has_value());
  writeBytes(dir + "/y5.npy", npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }",
                                       raw<int64_t>({0, 1, 2, 3, 4})));
  EXPECT_NE(errorOf([&] {
              loadDataset(parseDataSpec("x=" + dir + "/x.npy,y=" + dir + "/y5.npy"));
            }).find("4 examples (float32[4,2]) but 5 labels"),
            std::string::npos);
  writeBytes(dir + "/junk.bin", "garbage!");
  EXPECT_NE(errorOf([&] {
              loadDataset(parseDataSpec("x=" + dir + "/junk.bin,y=" + dir + "/y5.npy"));
            }).find("neither a .npy nor an IDX file"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { loadDataset(parseDataSpec("idx=" + dir + "/nowhere")); })
                .find("not found"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { loadDataset(parseDataSpec("idx=" + dir)); })
                .find("train-images-idx3-ubyte[.gz] not found"),
            std::string::npos);
}

TEST(Dataset, FashionMnist) {
  if (!fs::exists(std::string(kFashionMnistDir) + "/t10k-labels-idx1-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  Dataset d = loadDataset(parseDataSpec("fashion-mnist,train=1000"));
  EXPECT_EQ(d.name, "fashion-mnist");
  EXPECT_EQ(d.train.x.shape, (std::vector<int64_t>{1000, 28, 28}));
  EXPECT_EQ(d.train.x.type, ElemType::U8);
  ASSERT_TRUE(d.test.has_value());
  EXPECT_EQ(d.test->size(), 10000);
  std::set<double> labels;
  for (int64_t i = 0; i < d.test->y.numel(); ++i)
    labels.insert(d.test->y.at(i));
  EXPECT_EQ(labels.size(), 10u);
  EXPECT_EQ(*labels.begin(), 0);
  EXPECT_EQ(*labels.rbegin(), 9);
}

TEST(Shuffle, DeterministicPermutationPerSeedAndEpoch) {
  // Pinned: bench/train_vs_pytorch.py replays these orders in Python.
  EXPECT_EQ(epochOrder(10, 7, 0, true), (std::vector<int64_t>{4, 1, 9, 0, 5, 7, 3, 2, 8, 6}));
  EXPECT_EQ(epochOrder(10, 7, 1, true), (std::vector<int64_t>{2, 6, 9, 7, 4, 8, 0, 1, 3, 5}));
  EXPECT_EQ(epochOrder(10, 8, 0, true), (std::vector<int64_t>{6, 1, 0, 8, 2, 4, 5, 7, 9, 3}));
  EXPECT_EQ(epochOrder(4, 7, 0, false), (std::vector<int64_t>{0, 1, 2, 3}));
  std::vector<int64_t> big = epochOrder(1000, 1, 3, true);
  std::vector<int64_t> sorted = big;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i)
    ASSERT_EQ(sorted[(size_t)i], i);
  EXPECT_EQ(big, epochOrder(1000, 1, 3, true));
}

TEST(Normalize, Modes) {
  Array u8(ElemType::U8, {2, 2});
  u8.set(0, 0);
  u8.set(1, 255);
  u8.set(2, 255);
  u8.set(3, 0);
  Normalization a = makeNormalization("auto", u8, false);
  EXPECT_DOUBLE_EQ(a.scale, 1.0 / 255);
  EXPECT_EQ(a.describe(), "x/255");
  Normalization s = makeNormalization("standard", u8, false);
  EXPECT_DOUBLE_EQ(s.mean, 0.5);
  EXPECT_DOUBLE_EQ(s.std, 0.5);
  Normalization e = makeNormalization("0.2860,0.3530", u8, false);
  EXPECT_DOUBLE_EQ(e.mean, 0.286);
  EXPECT_DOUBLE_EQ(e.std, 0.353);
  EXPECT_TRUE(makeNormalization("none", u8, false).identity());
  EXPECT_TRUE(makeNormalization("auto", Array(ElemType::F32, {2}), false).identity());
  EXPECT_TRUE(makeNormalization("auto", u8, /*integerInput=*/true).identity());
  EXPECT_NE(errorOf([&] { makeNormalization("standard", u8, true); }).find("integer tensor"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { makeNormalization("0.5", u8, false); }).find("MEAN,STD"),
            std::string::npos);
  EXPECT_NE(errorOf([&] { makeNormalization("0.5,0", u8, false); }).find("positive"),
            std::string::npos);
}

TEST(BatchLoader, OrderLastBatchResumeAndConversion) {
  Split s;
  s.x = Array(ElemType::U8, {5, 2, 2});
  for (int64_t i = 0; i < 20; ++i)
    s.x.set(i, (double)(i * 10));
  s.y = Array(ElemType::U8, {5});
  for (int64_t i = 0; i < 5; ++i)
    s.y.set(i, (double)i);
  BatchFormat fmt;
  fmt.xType = ElemType::F32;
  fmt.xShape = {4};
  fmt.yType = ElemType::I64;
  fmt.norm.scale = 0.1;
  std::vector<int64_t> order{4, 2, 0, 1, 3};
  {
    BatchLoader loader(s, fmt, order, 2);
    EXPECT_EQ(loader.numBatches(), 3);
    auto b0 = loader.next();
    ASSERT_TRUE(b0);
    EXPECT_EQ(b0->x.shape, (std::vector<int64_t>{2, 4}));
    EXPECT_EQ(b0->x.type, ElemType::F32);
    EXPECT_FLOAT_EQ((float)b0->x.at(0), 16.0f); // example 4, element 0: 160 * 0.1
    EXPECT_EQ(b0->y.at(0), 4);
    EXPECT_EQ(b0->y.at(1), 2);
    loader.next();
    auto last = loader.next();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->size, 1);
    EXPECT_EQ(last->y.at(0), 3);
    EXPECT_FALSE(loader.next());
  }
  BatchLoader dropped(s, fmt, order, 2, /*firstBatch=*/1, /*dropLast=*/true);
  EXPECT_EQ(dropped.numBatches(), 2);
  auto b = dropped.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->index, 1);
  EXPECT_EQ(b->y.at(0), 0);
  EXPECT_FALSE(dropped.next());
  // Stopping early (the destructor) while the producer waits on a full queue.
  { BatchLoader early(s, fmt, order, 1, 0, false, 1); }
  EXPECT_NE(errorOf([&] { BatchLoader bad(s, fmt, {0, 7}, 2); }).find("out of range"),
            std::string::npos);
}

TEST(Synthetic, ShapesLabelsAndDeterminism) {
  DataSpec spec = parseDataSpec("synthetic,train=64,test=16");
  SyntheticShape shape;
  shape.example = {1, 4, 4};
  shape.classes = 3;
  Dataset a = makeSynthetic(spec, shape, 5), b = makeSynthetic(spec, shape, 5),
          c = makeSynthetic(spec, shape, 6);
  EXPECT_EQ(a.train.x.shape, (std::vector<int64_t>{64, 1, 4, 4}));
  EXPECT_EQ(a.train.y.shape, (std::vector<int64_t>{64}));
  ASSERT_TRUE(a.test);
  EXPECT_EQ(a.test->size(), 16);
  EXPECT_EQ(a.train.x.bytes, b.train.x.bytes);
  EXPECT_NE(a.train.x.bytes, c.train.x.bytes);
  for (int64_t i = 0; i < 64; ++i)
    EXPECT_TRUE(a.train.y.at(i) >= 0 && a.train.y.at(i) < 3);
  shape.target = SyntheticShape::Target::Binary;
  shape.targetShape = {2};
  Dataset bin = makeSynthetic(spec, shape, 1);
  EXPECT_EQ(bin.train.y.shape, (std::vector<int64_t>{64, 2}));
  for (int64_t i = 0; i < bin.train.y.numel(); ++i)
    EXPECT_TRUE(bin.train.y.at(i) == 0 || bin.train.y.at(i) == 1);
  shape.target = SyntheticShape::Target::Classes;
  shape.classes = 0;
  EXPECT_NE(errorOf([&] { makeSynthetic(spec, shape, 1); }).find("classes"), std::string::npos);
}

// The JIT on whole functions against the interpreter: fused kernels (the fusion pass's
// adjoint.Kernel: one loop nest for elementwise bodies, GEMM epilogues, reductions between
// nests), seeded random chains of elementwise, broadcast and reduction ops with and without
// fusion and the memory plan, in-place parameter updates, the object cache, and the MLP model.
#include "JitTestSupport.h"

#include "Frontend/OnnxImporter.h"

#include <filesystem>
#include <unistd.h>

using namespace adjoint;
using namespace adjoint::testing;

namespace {

const char *kUnary[] = {"Exp", "Log", "Sqrt", "Tanh", "Sigmoid", "Relu", "Neg", "Abs",
                        "Reciprocal", "Erf", "LeakyRelu", "Elu"};
const char *kBinary[] = {"Add", "Sub", "Mul", "Div", "Pow"};
const char *kReduce[] = {"ReduceSum", "ReduceMean", "ReduceMax"};

// A random shape that broadcasts to `base`: some dims 1, maybe fewer leading dims.
Shape subShape(const Shape &base, std::mt19937 &rng) {
  Shape s;
  size_t drop = rng() % 3 == 0 ? rng() % (base.size() + 1) : 0;
  for (size_t d = drop; d < base.size(); ++d)
    s.push_back(rng() % 3 == 0 ? 1 : base[d]);
  return s;
}

// A seeded chain of ops over values that all broadcast to one base shape.
struct RandomChain {
  std::unique_ptr<Module> module = std::make_unique<Module>();
  Function *f = module->addFunction("chain");
  std::map<std::string, Tensor> inputs;

  RandomChain(uint32_t seed, DType t) {
    std::mt19937 rng(seed);
    const int64_t sizes[] = {1, 3, 7, 17, 33};
    Shape base;
    for (size_t r = 1 + rng() % 3; base.size() < r;)
      base.push_back(sizes[rng() % 5]);
    std::vector<Value *> pool;
    for (int i = 0, n = 1 + rng() % 3; i < n; ++i) {
      std::string name = std::string("x").append(std::to_string(i));
      Shape s = i == 0 ? base : subShape(base, rng);
      pool.push_back(f->addInput(name, {t, s}));
      inputs[name] = randomTensor(t, s, rng, rng() % 2, /*huge=*/false);
    }
    auto pick = [&]() { return pool[rng() % pool.size()]; };
    for (int step = 0, n = 4 + rng() % 10; step < n; ++step) {
      Value *v = nullptr;
      switch (rng() % 7) {
      case 0:
      case 1:
        v = buildOp(*f, kUnary[rng() % 12], {pick()})->result();
        break;
      case 2:
      case 3:
        v = buildOp(*f, kBinary[rng() % 5], {pick(), pick()})->result();
        break;
      case 4: {
        Value *c = buildOp(*f, rng() % 2 ? "Less" : "Greater", {pick(), pick()})->result();
        v = buildOp(*f, "Where", {c, pick(), pick()})->result();
        break;
      }
      case 5: {
        Value *x = pick();
        std::vector<int64_t> axes;
        for (int64_t d = 0; d < (int64_t)x->shape().size(); ++d)
          if (rng() % 2)
            axes.push_back(d);
        const char *op = kReduce[rng() % 3];
        std::vector<Value *> operands{x};
        AttrMap attrs{{"keepdims", Attribute(int64_t{1})}};
        if (std::string(op) == "ReduceSum") {
          if (!axes.empty())
            operands.push_back(buildConstant(*f, Tensor::fromVector<int64_t>({(int64_t)axes.size()}, axes)));
        } else if (!axes.empty()) {
          attrs["axes"] = Attribute(axes);
        }
        v = buildOp(*f, op, operands, attrs)->result();
        break;
      }
      case 6: {
        Tensor c = t == DType::F32 ? Tensor::scalar<float>(0.5f) : Tensor::scalar<double>(0.5);
        v = buildOp(*f, rng() % 2 ? "Mul" : "Add", {pick(), buildConstant(*f, c)})->result();
        if (rng() % 2) {
          Tensor lo = t == DType::F32 ? Tensor::scalar<float>(-2.f) : Tensor::scalar<double>(-2.0);
          v = buildOp(*f, "Clip", {v, buildConstant(*f, lo), nullptr})->result();
        }
        break;
      }
      }
      pool.push_back(v);
    }
    f->addOutput("last", pool.back());
    f->addOutput("some", pool[rng() % pool.size()]);
  }
};

} // namespace

TEST(JitKernel, RandomChainsMatchTheInterpreter) {
  int kernels = 0;
  for (uint32_t seed = 0; seed < 40; ++seed)
    for (DType t : {DType::F32, DType::F64})
      for (int variant = 0; variant < 3; ++variant) {
        RandomChain c(seed, t);
        JitOptions opts;
        opts.lowering.memoryPlan = variant != 1;
        if (variant == 2) {
          runPass(*c.module, "fuse");
          kernels += (int)c.module->functions().size() - 1;
        }
        std::string what = "seed " + std::to_string(seed) + " " + std::string(dtypeName(t)) +
                           (variant == 2 ? " fused" : variant == 1 ? " no plan" : "");
        // Rounding differences in a reduction's last bit may grow through later ops a little.
        expectJitMatches(*c.f, c.inputs, what, Tolerance{1e-4, 1e-9}, opts);
      }
  EXPECT_GT(kernels, 15); // the fused variants do hold kernels
}

namespace {

// y = relu(x @ w + b) * 0.5 + c, as the fusion pass sees an MLP layer.
std::unique_ptr<Module> mlpLayer(DType t, int64_t m, int64_t k, int64_t n) {
  auto mod = std::make_unique<Module>();
  Function *f = mod->addFunction("layer");
  Value *x = f->addInput("x", {t, {m, k}});
  Value *w = f->addInput("w", {t, {k, n}});
  Value *b = f->addInput("b", {t, {n}});
  Value *c = f->addInput("c", {t, {m, 1}});
  Value *h = buildOp(*f, "Add", {buildOp(*f, "MatMul", {x, w})->result(), b})->result();
  Value *half = buildConstant(*f, t == DType::F32 ? Tensor::scalar<float>(0.5f) : Tensor::scalar<double>(0.5));
  Value *y = buildOp(*f, "Add", {buildOp(*f, "Mul", {buildOp(*f, "Relu", {h})->result(), half})->result(), c})->result();
  f->addOutput("y", y);
  f->addOutput("h", h);
  return mod;
}

} // namespace

TEST(JitKernel, GemmEpilogueAndElementwiseKernels) {
  std::mt19937 rng(21);
  for (DType t : {DType::F32, DType::F64})
    for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {7, 17, 33}, {64, 784, 512}}) {
      auto mod = mlpLayer(t, m, k, n);
      runPass(*mod, "fuse");
      ASSERT_GE(mod->functions().size(), 2u) << "the layer was not fused";
      std::map<std::string, Tensor> in{{"x", uniformTensor(t, {m, k}, rng, 0, 1)},
                                       {"w", uniformTensor(t, {k, n}, rng, 0, 1)},
                                       {"b", uniformTensor(t, {n}, rng, -1, 1)},
                                       {"c", uniformTensor(t, {m, 1}, rng, -1, 1)}};
      expectJitMatches(*mod->main(), in, "layer " + std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n));
    }
}

TEST(JitKernel, ElementwiseKernelIsOneLoopNest) {
  auto mod = std::make_unique<Module>();
  Function *f = mod->addFunction("f");
  Value *x = f->addInput("x", {DType::F32, {64, 1000}});
  Value *b = f->addInput("b", {DType::F32, {1000}});
  Value *y = buildOp(*f, "Sigmoid", {buildOp(*f, "Mul", {buildOp(*f, "Add", {x, b})->result(), x})->result()})->result();
  f->addOutput("y", buildOp(*f, "Neg", {y})->result());
  runPass(*mod, "fuse");
  ASSERT_EQ(mod->functions().size(), 2u);
  auto c = compileFunction(*f);
  EXPECT_EQ(c->stats().opFunctions, 1); // four ops, one generated loop nest
  std::mt19937 rng(22);
  expectJitMatches(*f, {{"x", randomTensor(DType::F32, {64, 1000}, rng)},
                        {"b", randomTensor(DType::F32, {1000}, rng)}}, "fused");
}

TEST(JitKernel, InPlaceParameterUpdate) {
  for (bool fuse : {false, true}) {
    auto mod = std::make_unique<Module>();
    Function *f = mod->addFunction("step");
    Tensor w0 = Tensor::fromVector<float>({1000}, std::vector<float>(1000, 1.f));
    Value *w = f->addParam("w", {DType::F32, {1000}}, w0);
    Value *g = f->addInput("g", {DType::F32, {1000}});
    Value *lr = buildConstant(*f, Tensor::scalar<float>(0.1f));
    Value *nw = buildOp(*f, "Sub", {w, buildOp(*f, "Mul", {g, lr})->result()})->result();
    f->addOutput("new.w", nw);
    if (fuse)
      runPass(*mod, "fuse");
    auto c = compileFunction(*f);
    const BufferLayout &l = c->layout();
    if (!fuse) { // the planner writes new.w over w unless a kernel reads w
      EXPECT_EQ(l.slots[l.firstOutput].inPlaceOf, 1);
    }
    std::mt19937 rng(23);
    expectJitMatches(*f, {{"g", randomTensor(DType::F32, {1000}, rng)}}, fuse ? "fused" : "plain");
    auto out = c->run({{"g", Tensor::fromVector<float>({1000}, std::vector<float>(1000, 2.f))}});
    EXPECT_FLOAT_EQ(out[0].data<float>()[999], 0.8f);
    EXPECT_EQ(w->paramData().data<float>()[999], 1.f); // the parameter's own data is untouched
  }
}

TEST(JitKernel, UnloweredOpInAKernelIsNamed) {
  auto mod = std::make_unique<Module>();
  Function *f = mod->addFunction("f");
  // Every registered op with a kernel is lowered, so the body holds an op the lowering registry
  // does not know, created directly (createOp skips the op registry's inference), between two
  // that it does; the kernel op is built as the fusion pass builds it.
  Function *body = mod->addFunction("k");
  Value *a = body->addInput("a", {DType::F32, {4}});
  Value *e = buildOp(*body, "Exp", {a})->result();
  Op *odd = body->createOp("Frobnicate", {e}, {{DType::F32, {4}}});
  odd->setDomain("test.unlowered");
  odd->setName("inner");
  body->addOutput("out0", buildOp(*body, "Neg", {odd->result()})->result());
  Value *x = f->addInput("x", {DType::F32, {4}});
  Op *kernel = f->createOp("Kernel", {x}, {{DType::F32, {4}}}, {{"body", Attribute(std::string("k"))}});
  kernel->setDomain("adjoint");
  f->addOutput("y", kernel->result());
  try {
    compileFunction(*f);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("1 op is not supported by the code generator"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test.unlowered.Frobnicate 'inner' (in kernel @k)"), std::string::npos) << msg;
  }
}

TEST(JitCache, SecondCompileHitsTheCache) {
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("adjoint-jit-cache-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  auto mod = mlpLayer(DType::F32, 8, 16, 4);
  JitOptions opts;
  opts.cacheDir = dir;
  auto first = compileFunction(*mod->main(), opts);
  auto second = compileFunction(*mod->main(), opts);
  EXPECT_FALSE(first->stats().cacheHit);
  EXPECT_TRUE(second->stats().cacheHit);
  EXPECT_EQ(second->stats().optimizeSeconds, 0.0);
  std::mt19937 rng(24);
  std::map<std::string, Tensor> in{{"x", uniformTensor(DType::F32, {8, 16}, rng, 0, 1)},
                                   {"w", uniformTensor(DType::F32, {16, 4}, rng, 0, 1)},
                                   {"b", uniformTensor(DType::F32, {4}, rng, 0, 1)},
                                   {"c", uniformTensor(DType::F32, {8, 1}, rng, 0, 1)}};
  auto a = first->run(in), b = second->run(in);
  EXPECT_EQ(difference(a[0], b[0], Tolerance{0, 0}), "");
  // Another CPU is another key.
  opts.target.cpu = "x86-64-v2";
  EXPECT_FALSE(compileFunction(*mod->main(), opts)->stats().cacheHit);
  std::filesystem::remove_all(dir);
}

TEST(JitModel, FashionMlpMatchesTheInterpreter) {
  ImportOptions io;
  io.dims["batch"] = 64;
  auto mod = importOnnxFile(std::string(ADJOINT_SOURCE_DIR) + "/models/fashion_mlp.onnx", io);
  std::mt19937 rng(25);
  std::map<std::string, Tensor> in{{"input", uniformTensor(DType::F32, {64, 784}, rng, 0, 1)}};
  expectJitMatches(*mod->main(), in, "fashion_mlp", Tolerance{1e-4, 1e-9, 1e-5});
  runPass(*mod, "fuse");
  expectJitMatches(*mod->main(), in, "fashion_mlp fused", Tolerance{1e-4, 1e-9, 1e-5});
}

// The planner may put a kernel's GEMM result over an operand its epilogue still reads
// (Transforms/MemoryPlan.cpp, kernelMayWriteOver): the GEMM must not write there first.
TEST(JitKernel, GemmResultOverAnOperandTheEpilogueReads) {
  auto mod = std::make_unique<Module>();
  Function *f = mod->addFunction("f");
  Value *a = f->addInput("a", {DType::F32, {4, 3}});
  Value *b = f->addInput("b", {DType::F32, {3, 5}});
  Value *x0 = f->addInput("x0", {DType::F32, {4, 5, 2}});
  Value *x = buildOp(*f, "ReduceMax", {x0}, {{"axes", Attribute(std::vector<int64_t>{2})}, {"keepdims", Attribute(int64_t{0})}})->result();
  Value *y = buildOp(*f, "MatMul", {a, b})->result();
  f->addOutput("z", buildOp(*f, "Add", {y, x})->result());
  f->addOutput("s", buildOp(*f, "ReduceSum", {y}, {{"keepdims", Attribute(int64_t{0})}})->result());
  runPass(*mod, "fuse");
  std::mt19937 rng(26);
  expectJitMatches(*f, {{"a", uniformTensor(DType::F32, {4, 3}, rng, 0, 1)},
                        {"b", uniformTensor(DType::F32, {3, 5}, rng, 0, 1)},
                        {"x0", uniformTensor(DType::F32, {4, 5, 2}, rng, 0, 1)}}, "GEMM over operand");
}

// Fusion keeps results bit for bit: random graphs from a seeded generator (elementwise and
// broadcast chains, reductions, softmax and layer norm, MatMul/Gemm epilogues, fan-out, opaque
// Transposes that make cycles possible) are interpreted before and after --fuse. A kernel runs
// its body with the same reference kernels, each op once, so the bytes must agree.
#include "IR/Parser.h"
#include "IR/Printer.h"
#include "Interpreter/Interpreter.h"
#include "Ops/Build.h"
#include "Ops/Verify.h"
#include "Transforms/FusionRules.h"
#include "Transforms/Pass.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>

using namespace adjoint;

namespace {

class GraphGen {
public:
  GraphGen(unsigned seed, DType dt) : rng_(seed), dt_(dt) {}

  std::unique_ptr<Module> build(int numOps) {
    auto m = std::make_unique<Module>();
    f_ = m->addFunction("g");
    int64_t b = pick(2, 3), n = pick(3, 5);
    pool_ = {f_->addInput("x", {dt_, {b, n}}), f_->addInput("y", {dt_, {b, n}}),
             f_->addInput("v", {dt_, {n}}), f_->addInput("c", {dt_, {b, 1}}),
             f_->addInput("s", {dt_, {}})};
    for (int i = 0; i < numOps; ++i)
      step();
    // Outputs: the last values and a few earlier ones, so some intermediates are needed outside
    // their kernels.
    std::set<Value *> outs;
    for (size_t k = 0; k < 2 && k < pool_.size(); ++k)
      outs.insert(pool_[pool_.size() - 1 - k]);
    for (int k = 0; k < 3; ++k)
      outs.insert(any());
    int o = 0;
    for (Value *v : outs)
      if (!v->isArg())
        f_->addOutput("o" + std::to_string(o++), v);
    if (f_->outputs().empty())
      f_->addOutput("o", buildOp(*f_, "Neg", {pool_[0]})->result());
    return m;
  }

  std::map<std::string, Tensor> inputs() {
    std::map<std::string, Tensor> r;
    std::uniform_real_distribution<double> u(-2.0, 2.0);
    for (const auto &a : f_->args()) {
      if (a->isParam())
        continue;
      Tensor t(a->dtype(), a->shape());
      for (int64_t i = 0; i < t.numel(); ++i)
        t.setDouble(i, u(rng_));
      r[a->name()] = t;
    }
    return r;
  }

private:
  int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  Value *any() { return pool_[(size_t)pick(0, (int64_t)pool_.size() - 1)]; }
  // Recent values are likelier, so chains form.
  Value *recent() {
    int64_t n = (int64_t)pool_.size();
    return pool_[(size_t)std::max<int64_t>(0, n - 1 - pick(0, std::min<int64_t>(n - 1, 4)))];
  }
  Value *scalar(double x) {
    Tensor t(dt_, {});
    t.setDouble(0, x);
    return buildConstant(*f_, t);
  }
  Value *param(const Shape &s) {
    Tensor t(dt_, s);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (int64_t i = 0; i < t.numel(); ++i)
      t.setDouble(i, u(rng_));
    return f_->addParam("p" + std::to_string(params_++), {dt_, s}, t);
  }
  Value *op(const std::string &type, std::vector<Value *> operands, AttrMap attrs = {},
            size_t results = 1, const std::string &domain = "") {
    return buildOp(*f_, type, std::move(operands), std::move(attrs), results, nullptr, domain)
        ->result();
  }

  void step() {
    static const char *unary[] = {"Neg", "Abs",  "Exp", "Tanh", "Sigmoid",    "Relu",
                                  "Sqrt", "Log", "Erf", "Elu",  "Reciprocal", "LeakyRelu"};
    static const char *binary[] = {"Add", "Sub", "Mul", "Div"};
    Value *a = recent();
    const Shape &s = a->shape();
    int64_t rank = (int64_t)s.size();
    try {
      switch (pick(0, 15)) {
      case 0:
      case 1:
      case 2:
        pool_.push_back(op(unary[pick(0, 11)], {a}));
        break;
      case 3:
      case 4:
      case 5:
        pool_.push_back(op(binary[pick(0, 3)], {a, pick(0, 1) ? any() : recent()}));
        break;
      case 6: { // comparison, Where, Not
        Value *b = any();
        Value *c = op(pick(0, 1) ? "Greater" : "Less", {a, b});
        if (pick(0, 1))
          c = op("Not", {c});
        pool_.push_back(op("Where", {c, a, b}));
        break;
      }
      case 7: { // Cast there and back, Clip
        int64_t other = dt_ == DType::F32 ? 11 : 1, self = dt_ == DType::F32 ? 1 : 11;
        Value *c = op("Cast", {op("Cast", {a}, {{"to", Attribute(other)}})}, {{"to", Attribute(self)}});
        pool_.push_back(op("Clip", {c, scalar(-0.5), scalar(1.5)}));
        break;
      }
      case 8: { // a reduction over some axes
        if (rank == 0)
          break;
        std::vector<int64_t> axes;
        for (int64_t d = 0; d < rank; ++d)
          if (pick(0, 1))
            axes.push_back(d - (pick(0, 1) ? rank : 0));
        int64_t keep = pick(0, 1);
        int64_t kind = pick(0, 2);
        if (kind == 0) {
          std::vector<Value *> ops{a};
          if (!axes.empty())
            ops.push_back(buildConstant(*f_, Tensor::fromVector<int64_t>({(int64_t)axes.size()}, axes)));
          pool_.push_back(op("ReduceSum", ops, {{"keepdims", Attribute(keep)}}));
        } else {
          AttrMap attrs{{"keepdims", Attribute(keep)}};
          if (!axes.empty())
            attrs["axes"] = Attribute(axes);
          pool_.push_back(op(kind == 1 ? "ReduceMean" : "ReduceMax", {a}, attrs));
        }
        break;
      }
      case 9: // softmax-like
        if (rank > 0)
          pool_.push_back(op(pick(0, 1) ? "Softmax" : "LogSoftmax", {a},
                             {{"axis", Attribute(pick(0, rank - 1))}}));
        break;
      case 10: { // layer norm
        if (rank == 0)
          break;
        int64_t axis = pick(0, rank - 1);
        Shape gs(s.begin() + axis, s.end());
        std::vector<Value *> ops{a, param(gs)};
        if (pick(0, 1))
          ops.push_back(param(gs));
        pool_.push_back(op("LayerNormalization", ops, {{"axis", Attribute(axis)}}, 1));
        break;
      }
      case 11:
      case 12: { // MatMul or Gemm, then maybe a bias and an activation
        if (rank != 2)
          break;
        int64_t k = pick(2, 4);
        Value *y = pick(0, 1) ? op("MatMul", {a, param({s[1], k})})
                              : op("Gemm", {a, param({s[1], k}), param({k})});
        if (pick(0, 1))
          y = op("Add", {y, param({k})});
        pool_.push_back(op(pick(0, 1) ? "Relu" : "Tanh", {y}));
        break;
      }
      case 13: // an opaque op in the middle: paths around kernels
        if (rank == 2 && s[0] == s[1])
          pool_.push_back(op("Transpose", {a}, {{"perm", Attribute(std::vector<int64_t>{1, 0})}}));
        else if (rank == 2)
          pool_.push_back(op("Transpose", {op("Transpose", {a}, {{"perm", Attribute(std::vector<int64_t>{1, 0})}})},
                             {{"perm", Attribute(std::vector<int64_t>{1, 0})}}));
        break;
      case 14: // zeros as autodiff builds them (Expand of a constant), and a scaled value
        pool_.push_back(op("Sub", {buildZeros(*f_, a->type()), op("Mul", {a, scalar(0.5)})}));
        break;
      case 15: { // a cross-entropy loss and its gradient
        if (rank != 2)
          break;
        std::vector<int64_t> labels;
        for (int64_t i = 0; i < s[0]; ++i)
          labels.push_back(pick(0, s[1] - 1));
        Value *t = buildConstant(*f_, Tensor::fromVector<int64_t>({s[0]}, labels));
        Value *loss = op("SoftmaxCrossEntropyLoss", {a, t});
        pool_.push_back(loss);
        pool_.push_back(op("SoftmaxCrossEntropyGrad", {loss, a, t}, {}, 1, "adjoint"));
        break;
      }
      }
    } catch (const Error &) {
      // Shapes that do not broadcast: skip this step (buildOp left nothing behind).
    }
  }

  std::mt19937 rng_;
  DType dt_;
  Function *f_ = nullptr;
  std::vector<Value *> pool_;
  int params_ = 0;
};

std::unique_ptr<Module> clone(const Module &m) {
  std::ostringstream os;
  printModule(os, m);
  return parseModule(os.str(), "<clone>");
}

struct Outcome {
  int64_t kernels = 0, fusedOps = 0;
  int64_t cycles = 0, reduceKernels = 0, gemmKernels = 0; // what the graphs exercised
};

// Fuses a copy of the generated graph and checks it against the original.
Outcome checkSeed(unsigned seed, DType dt, int64_t maxOps) {
  GraphGen gen(seed, dt);
  std::unique_ptr<Module> plain = gen.build(30);
  std::map<std::string, Tensor> ins = gen.inputs();
  std::unique_ptr<Module> fused = clone(*plain);

  PassContext ctx;
  std::ostringstream debug;
  ctx.debugOnly.insert("fusion");
  ctx.debugStream = &debug;
  ctx.options["fuse-max-ops"] = std::to_string(maxOps);
  runFusion(*fused->main(), ctx);
  SCOPED_TRACE("seed " + std::to_string(seed) + "\n" + toString(*plain->main()));
  verifyModule(*fused);

  Outcome out{ctx.stats["fusion.kernels"], ctx.stats["fusion.fused_ops"]};
  for (size_t at = 0; (at = debug.str().find("create a cycle", at)) != std::string::npos; ++at)
    out.cycles++;
  // Every kernel is within the cap, flat, made of fusible ops, with at most one GEMM.
  for (const auto &fn : fused->functions()) {
    if (fn.get() == fused->main())
      continue;
    EXPECT_GE(fn->ops().size(), 2u);
    int64_t members = 0, gemms = 0;
    for (const auto &op : fn->ops()) {
      fusion::OpClass c = fusion::classify(*op);
      EXPECT_NE(c, fusion::OpClass::Opaque) << op->describe() << " in @" << fn->name();
      members += c != fusion::OpClass::Constant;
      gemms += c == fusion::OpClass::Gemm;
    }
    EXPECT_LE(members, maxOps) << "@" << fn->name();
    out.gemmKernels += gemms;
    for (const auto &op : fn->ops())
      if (fusion::classify(*op) == fusion::OpClass::Reduction) {
        out.reduceKernels++;
        break;
      }
    EXPECT_LE(gemms, 1) << "@" << fn->name();
  }

  std::vector<Tensor> before = interpret(*plain->main(), ins);
  std::vector<Tensor> after = interpret(*fused->main(), ins);
  EXPECT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size() && i < after.size(); ++i)
    EXPECT_TRUE(before[i].identical(after[i]))
        << "output " << plain->main()->outputs()[i].name << " differs\n"
        << toString(*fused->main());

  // Fusing again changes nothing: kernels are not fusible and bodies are left alone.
  std::unique_ptr<Module> again = clone(*fused);
  PassContext ctx2;
  ctx2.options["fuse-max-ops"] = std::to_string(maxOps);
  for (const auto &fn : again->functions())
    runFusion(*fn, ctx2);
  EXPECT_EQ(ctx2.stats["fusion.kernels"], 0);
  return out;
}

} // namespace

TEST(Fusion, RandomGraphsKeepTheirResultsBitForBit) {
  Outcome total;
  for (unsigned seed = 1; seed <= 150; ++seed) {
    Outcome o = checkSeed(seed, seed % 3 == 0 ? DType::F64 : DType::F32, 64);
    total.kernels += o.kernels;
    total.fusedOps += o.fusedOps;
    total.cycles += o.cycles;
    total.reduceKernels += o.reduceKernels;
    total.gemmKernels += o.gemmKernels;
    if (HasFailure())
      break;
  }
  // The generator is meant to give fusion work to do.
  EXPECT_GT(total.kernels, 150);
  EXPECT_GT(total.fusedOps, 3 * total.kernels / 2);
  EXPECT_GT(total.cycles, 5);
  EXPECT_GT(total.reduceKernels, 30);
  EXPECT_GT(total.gemmKernels, 30);
  std::printf("%lld kernels of %lld ops; %lld with a reduction, %lld with a GEMM; %lld cycles refused\n",
              (long long)total.kernels, (long long)total.fusedOps, (long long)total.reduceKernels,
              (long long)total.gemmKernels, (long long)total.cycles);
}

TEST(Fusion, RandomGraphsUnderATightCap) {
  for (unsigned seed = 1000; seed < 1060; ++seed) {
    checkSeed(seed, DType::F32, 3);
    if (HasFailure())
      break;
  }
}

TEST(Fusion, KernelRunsItsBody) {
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {DType::F32, {3}});
  Function *body = m.addFunction("f.k");
  Value *a = body->addInput("a", {DType::F32, {3}});
  Value *e = buildOp(*body, "Exp", {a})->result();
  body->addOutput("e", e);
  body->addOutput("n", buildOp(*body, "Neg", {e})->result());
  Op *k = buildOp(*f, "Kernel", {x}, {{"body", Attribute(std::string("f.k"))}}, 2, nullptr,
                  "adjoint");
  EXPECT_EQ(k->result(1)->type(), (TensorType{DType::F32, {3}}));
  f->addOutput("y", k->result(1));
  verifyModule(m);
  Tensor in = Tensor::fromVector<float>({3}, {0.f, 1.f, -1.f});
  Tensor y = interpret(*f, {{"x", in}})[0];
  EXPECT_FLOAT_EQ(y.data<float>()[0], -1.f);
  EXPECT_FLOAT_EQ(y.data<float>()[1], -std::exp(1.f));
  // Outside a module there is no body to run: an error naming the op, not a crash.
  Function loose("loose");
  Value *lx = loose.addInput("x", {DType::F32, {3}});
  EXPECT_THROW(buildOp(loose, "Kernel", {lx}, {{"body", Attribute(std::string("f.k"))}}, 1,
                       nullptr, "adjoint"),
               Error);
}

TEST(Fusion, BadCapIsAnError) {
  Module m;
  Function *f = m.addFunction("f");
  f->addOutput("y", buildOp(*f, "Neg", {f->addInput("x", {DType::F32, {2}})})->result());
  PassContext ctx;
  for (const char *bad : {"0", "-3", "x", "4x", ""}) {
    ctx.options["fuse-max-ops"] = bad;
    EXPECT_THROW(runFusion(*f, ctx), Error) << bad;
  }
}

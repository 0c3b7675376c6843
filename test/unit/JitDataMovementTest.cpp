// The JIT against the interpreter for Transpose, Concat, Slice, Split, Gather and the backward ops
// adjoint.SliceGrad and adjoint.GatherGrad: every dtype, attribute variants (default and explicit
// perms, tiled transposes, negative axes, negative and clamped slice steps, i32 and i64 indices,
// negative and repeated gather indices), empty results, sizes large enough to run on 1 and 2
// threads; an index out of range is the interpreter's error.
#include "JitTestSupport.h"

using namespace adjoint;
using namespace adjoint::testing;

namespace {

const DType kAllTypes[] = {DType::F32, DType::F64, DType::I64, DType::I32, DType::Bool};

std::string tstr(DType t, const Shape &s) { return TensorType{t, s}.str(); }

// Runs the check on 1 and 2 threads.
void matchThreaded(const Function &f, const std::map<std::string, Tensor> &in, const std::string &what) {
  for (int threads : {1, 2}) {
    setJitThreads(threads);
    expectJitMatches(f, in, what + " threads " + std::to_string(threads));
  }
  setJitThreads(0);
}

Tensor ints(DType t, const std::vector<int64_t> &v) {
  if (t == DType::I32) {
    std::vector<int32_t> w(v.begin(), v.end());
    return Tensor::fromVector<int32_t>({(int64_t)v.size()}, w);
  }
  return Tensor::fromVector<int64_t>({(int64_t)v.size()}, v);
}

Tensor indexTensor(DType t, const Shape &s, int64_t dim, std::mt19937 &rng) {
  Tensor r(t, s);
  for (int64_t i = 0; i < r.numel(); ++i) {
    int64_t v = (int64_t)(rng() % (2 * dim)) - dim; // [-dim, dim)
    if (t == DType::I32)
      r.data<int32_t>()[i] = (int32_t)v;
    else
      r.data<int64_t>()[i] = v;
  }
  return r;
}

void checkTranspose(DType t, const Shape &s, const std::vector<int64_t> *perm, std::mt19937 &rng) {
  AttrMap a;
  if (perm)
    a["perm"] = Attribute(*perm);
  OneOp one("Transpose", {{t, s}}, a, rng);
  matchThreaded(*one.f, one.inputs, "Transpose " + tstr(t, s) + (perm ? " perm " + shapeStr(*perm) : ""));
}

void checkConcat(DType t, const std::vector<Shape> &shapes, int64_t axis, std::mt19937 &rng) {
  std::vector<TensorType> types;
  for (const Shape &s : shapes)
    types.push_back({t, s});
  OneOp one("Concat", types, {{"axis", Attribute(axis)}}, rng);
  matchThreaded(*one.f, one.inputs, describe("Concat", types) + " axis " + std::to_string(axis));
}

struct SliceCase {
  Shape in;
  std::vector<int64_t> starts, ends, axes, steps; // axes/steps empty: absent
};

void checkSlice(DType t, const SliceCase &k, DType it, std::mt19937 &rng, bool grad) {
  Module m;
  Function *f = m.addFunction("f");
  std::map<std::string, Tensor> in;
  std::vector<Value *> idx{buildConstant(*f, ints(it, k.starts)), buildConstant(*f, ints(it, k.ends))};
  if (!k.axes.empty() || !k.steps.empty())
    idx.push_back(k.axes.empty() ? nullptr : buildConstant(*f, ints(it, k.axes)));
  if (!k.steps.empty())
    idx.push_back(buildConstant(*f, ints(it, k.steps)));
  std::string what = std::string(grad ? "SliceGrad " : "Slice ") + tstr(t, k.in) + " starts " +
                     shapeStr(k.starts) + " ends " + shapeStr(k.ends) + " axes " + shapeStr(k.axes) +
                     " steps " + shapeStr(k.steps) + " " + std::string(dtypeName(it));
  Value *x = f->addInput("x", {t, k.in});
  in["x"] = randomTensor(t, k.in, rng);
  std::vector<Value *> ops{x};
  ops.insert(ops.end(), idx.begin(), idx.end());
  Op *slice = buildOp(*f, "Slice", ops);
  f->addOutput("y", slice->result());
  if (grad) {
    Value *dy = f->addInput("dy", slice->result()->type());
    in["dy"] = randomTensor(t, slice->result()->shape(), rng);
    std::vector<Value *> gops{dy, buildConstant(*f, Tensor::fromVector<int64_t>({(int64_t)k.in.size()}, k.in))};
    gops.insert(gops.end(), idx.begin(), idx.end());
    f->addOutput("dx", buildOp(*f, "SliceGrad", gops, {}, 1, nullptr, "adjoint")->result());
  }
  matchThreaded(*f, in, what);
}

void checkSplit(DType t, const Shape &s, int64_t axis, const std::vector<int64_t> &sizes,
                size_t n, std::mt19937 &rng) {
  Module m;
  Function *f = m.addFunction("f");
  Value *x = f->addInput("x", {t, s});
  std::vector<Value *> ops{x};
  if (!sizes.empty())
    ops.push_back(buildConstant(*f, Tensor::fromVector<int64_t>({(int64_t)sizes.size()}, sizes)));
  Op *op = buildOp(*f, "Split", ops, {{"axis", Attribute(axis)}}, n);
  for (size_t j = 0; j < n; ++j)
    f->addOutput("y" + std::to_string(j), op->result(j));
  matchThreaded(*f, {{"x", randomTensor(t, s, rng)}},
                "Split " + tstr(t, s) + " axis " + std::to_string(axis) + " sizes " + shapeStr(sizes));
}

void checkGather(DType t, const Shape &data, const Shape &indices, DType it, int64_t axis,
                 std::mt19937 &rng, bool grad) {
  Module m;
  Function *f = m.addFunction("f");
  int64_t rank = (int64_t)data.size(), a = axis < 0 ? axis + rank : axis;
  Value *x = f->addInput("x", {t, data});
  Value *i = f->addInput("i", {it, indices});
  std::map<std::string, Tensor> in{{"x", randomTensor(t, data, rng)},
                                   {"i", indexTensor(it, indices, data[a], rng)}};
  Op *g = buildOp(*f, "Gather", {x, i}, {{"axis", Attribute(axis)}});
  f->addOutput("y", g->result());
  if (grad) {
    Value *dy = f->addInput("dy", g->result()->type());
    in["dy"] = randomTensor(t, g->result()->shape(), rng, false);
    Value *shape = buildConstant(*f, Tensor::fromVector<int64_t>({rank}, data));
    f->addOutput("dx", buildOp(*f, "GatherGrad", {dy, i, shape}, {{"axis", Attribute(axis)}}, 1,
                               nullptr, "adjoint")->result());
  }
  matchThreaded(*f, in, std::string(grad ? "GatherGrad " : "Gather ") + tstr(t, data) +
                            " indices " + tstr(it, indices) + " axis " + std::to_string(axis));
}

} // namespace

TEST(JitDataMovement, Transpose) {
  std::mt19937 rng(41);
  std::vector<std::vector<int64_t>> perms3 = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (DType t : kAllTypes) {
    for (const auto &p : perms3)
      checkTranspose(t, {3, 5, 17}, &p, rng);
    checkTranspose(t, {7, 19}, nullptr, rng);
    checkTranspose(t, {2, 3, 4, 5}, nullptr, rng);
    std::vector<int64_t> p4{0, 2, 3, 1};
    checkTranspose(t, {2, 3, 1, 33}, &p4, rng);
    checkTranspose(t, {1, 1}, nullptr, rng);
    checkTranspose(t, {}, nullptr, rng);
    checkTranspose(t, {4, 0, 3}, nullptr, rng);
    // Tiled: the input's contiguous dimension is not the output's innermost, with remainders
    // and with a dimension between the two tiled ones.
    std::vector<int64_t> swapLast{0, 2, 1}, reverse{2, 1, 0};
    checkTranspose(t, {3, 40, 50}, &swapLast, rng);
    checkTranspose(t, {40, 3, 65}, &reverse, rng);
  }
  std::vector<int64_t> swapLast{0, 2, 1};
  checkTranspose(DType::F32, {8, 128, 96}, &swapLast, rng);
  checkTranspose(DType::F32, {300, 257}, nullptr, rng);
  std::vector<int64_t> p{2, 0, 1};
  checkTranspose(DType::F64, {64, 33, 40}, &p, rng);
}

TEST(JitDataMovement, Concat) {
  std::mt19937 rng(42);
  for (DType t : kAllTypes) {
    checkConcat(t, {{2, 3, 5}, {2, 1, 5}, {2, 4, 5}}, 1, rng);
    checkConcat(t, {{2, 3, 5}, {2, 1, 5}, {2, 4, 5}}, -2, rng);
    checkConcat(t, {{3, 5}, {1, 5}, {0, 5}}, 0, rng);
    checkConcat(t, {{3, 5}, {3, 7}}, -1, rng);
    checkConcat(t, {{17}}, 0, rng);
  }
  checkConcat(DType::F32, {{300, 129}, {300, 200}}, 1, rng);
}

TEST(JitDataMovement, SliceAndSliceGrad) {
  std::mt19937 rng(43);
  std::vector<SliceCase> cases = {
      {{20, 10}, {1, 2}, {8, 9}, {}, {}},
      {{20, 10}, {0}, {100}, {1}, {3}},
      {{20, 10}, {-1, 8}, {-100, 1}, {0, 1}, {-2, -3}},
      {{20, 10}, {5}, {5}, {0}, {}},                       // empty
      {{3, 4, 33}, {1, -5}, {1000, -1}, {-1, 0}, {}},       // negative axes and ends
      {{3, 4, 33}, {2}, {0}, {2}, {-1}},                    // reversed innermost
      {{3, 4, 33}, {-100, 0}, {100, 4}, {2, 1}, {7, 100}}, // step beyond the dimension
      {{300, 300}, {1, 0}, {299, 300}, {}, {1, 1}},        // large: threads
  };
  for (const SliceCase &k : cases)
    for (DType t : kAllTypes)
      for (DType it : {DType::I64, DType::I32})
        for (bool grad : {false, true})
          checkSlice(t, k, it, rng, grad);
}

TEST(JitDataMovement, Split) {
  std::mt19937 rng(44);
  for (DType t : kAllTypes) {
    checkSplit(t, {6, 4}, 0, {}, 3, rng);
    checkSplit(t, {6, 5, 7}, 1, {2, 0, 3}, 3, rng);
    checkSplit(t, {6, 5, 7}, -1, {6, 1}, 2, rng);
    checkSplit(t, {9}, 0, {9}, 1, rng);
  }
  checkSplit(DType::F32, {400, 300}, 1, {100, 200}, 2, rng);
}

TEST(JitDataMovement, GatherAndGatherGrad) {
  std::mt19937 rng(45);
  for (DType it : {DType::I64, DType::I32}) {
    for (DType t : kAllTypes) {
      bool grad = t != DType::Bool;
      checkGather(t, {10, 7}, {5}, it, 0, rng, grad);
      checkGather(t, {10, 7}, {3, 4}, it, 1, rng, grad);
      checkGather(t, {4, 6, 9}, {}, it, -2, rng, grad);
      checkGather(t, {4, 6, 9}, {20}, it, -1, rng, grad);
      checkGather(t, {4, 6, 9}, {0}, it, 1, rng, grad);
    }
    checkGather(DType::F32, {1000, 64}, {64, 50}, it, 0, rng, true); // an embedding, threads
    checkGather(DType::F64, {64, 300, 8}, {40}, it, 1, rng, true);
  }
}

TEST(JitDataMovement, IndexOutOfRangeIsTheInterpretersError) {
  for (bool grad : {false, true})
    for (DType it : {DType::I64, DType::I32}) {
      Module m;
      Function *f = m.addFunction("f");
      Value *x = f->addInput("x", {DType::F32, {4, 3}});
      Value *i = f->addInput("i", {it, {3}});
      Op *op;
      if (grad)
        op = buildOp(*f, "GatherGrad", {x, i, buildConstant(*f, Tensor::fromVector<int64_t>({2}, {4, 5}))},
                     {{"axis", Attribute(int64_t{1})}}, 1, nullptr, "adjoint");
      else
        op = buildOp(*f, "Gather", {x, i}, {{"axis", Attribute(int64_t{1})}});
      op->setName("g");
      f->addOutput("y", op->result());
      // dy of GatherGrad is [4, 3] too: shape [4, 5] gathered by 3 indices on axis 1.
      std::map<std::string, Tensor> in{{"x", Tensor(DType::F32, {4, 3})}, {"i", ints(it, {1, -7, 9})}};
      std::string want, got;
      try {
        interpret(*f, in);
      } catch (const Error &e) {
        want = e.what();
      }
      auto c = compileFunction(*f);
      try {
        c->run(in);
      } catch (const Error &e) {
        got = e.what();
      }
      EXPECT_NE(want, "");
      EXPECT_EQ(got, want);
      in["i"] = ints(it, {1, -1, 2});
      EXPECT_NO_THROW(c->run(in));
    }
}

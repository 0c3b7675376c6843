// ONNX's training domain, ai.onnx.preview.training (opset 1): the optimizer ops Adam, Adagrad and
// Momentum, and Gradient.
//
// The optimizer ops take R (learning rate, float scalar), T (update count, i64 scalar), then
// variadic groups of tensors: all X (the optimized tensors), all G (their gradients), then the
// state (Adam: V and H; Adagrad: H; Momentum: V). Their results are the new X, then the new state,
// group by group, so n tensors give (groups - 1) * n results; trailing results may be omitted.
// Every tensor of one X's group must have that X's type. Kernels compute in double and round once,
// and follow the pseudo code of the ONNX op docs (and the node tests' numpy references) exactly,
// including each op's convention for T = 0.
//
// Gradient(inputs...) {xs, y, zs} stands for the gradient of the tensor named y with respect to the
// tensors named xs, at the values fed as inputs (xs then zs). It has no kernel of its own: the
// expand-gradient pass (Transforms/ExpandGradient.cpp) replaces it by the adjoint graph before
// anything runs it; adjoint-run does so on its own.
#include "Ops/KernelUtil.h"

#include <cmath>
#include <limits>

namespace adjoint {

namespace {

const char *const kTraining = "ai.onnx.preview.training";

// Number of input groups after R and T (X, G, then the state).
int groupsOf(const std::string &op) { return op == "Adam" ? 4 : 3; }

// n, the number of optimized tensors, after checking the operand count against the groups.
size_t tensorsOf(const InferContext &c, int groups) {
  size_t rest = c.numOperands() - 2;
  c.require(rest % groups == 0 && rest > 0, "expects R, T and ", groups,
            " equally long groups of tensors (X..., G..., state...), got ", rest,
            " operands after R and T");
  return rest / groups;
}

std::vector<TensorType> inferOptimizer(InferContext &c) {
  if (c.op.opType() == "Momentum") {
    std::string mode = c.s("mode");
    c.require(mode == "standard" || mode == "nesterov",
              "mode must be 'standard' or 'nesterov', got '", mode, "'");
  }
  int groups = groupsOf(c.op.opType());
  size_t n = tensorsOf(c, groups);
  for (size_t i = 0; i < c.numOperands(); ++i)
    c.require(c.hasOperand(i), "operand ", i, " is missing; every operand is required");
  c.require(isFloat(c.dtype(0)) && numElements(c.shape(0)) == 1,
            "R (the learning rate) must be a float or double scalar, got ", c.type(0).str());
  c.require(c.dtype(1) == DType::I64 && numElements(c.shape(1)) == 1,
            "T (the update count) must be an int64 scalar, got ", c.type(1).str());
  for (size_t k = 0; k < n; ++k) {
    const TensorType &x = c.type(2 + k);
    c.require(isFloat(x.dtype), "X", k + 1, " must be float or double, got ", x.str());
    for (int g = 1; g < groups; ++g)
      c.require(c.type(2 + g * n + k) == x, "operand ", 2 + g * n + k, " (group ", g + 1,
                " of tensor ", k + 1, ") must have X", k + 1, "'s type ", x.str(), ", got ",
                c.type(2 + g * n + k).str());
  }
  size_t results = (groups - 1) * n;
  c.require(c.numResults <= results, "has ", c.numResults, " results, but ", n,
            " tensors give at most ", results);
  std::vector<TensorType> types;
  // Result group 0 is the new X; result group g > 0 is the new state of input group g + 1.
  for (int g = 0; g < groups - 1; ++g)
    for (size_t k = 0; k < n; ++k)
      types.push_back(c.type(2 + (g == 0 ? 0 : g + 1) * n + k));
  return types;
}

// Calls update(k, in, out) for each tensor k with the double values of its input groups and the
// outputs to fill (one per result group, null where the node omits that result).
template <typename Update> void runOptimizer(KernelContext &c, Update update) {
  int groups = groupsOf(c.op.opType());
  size_t n = (c.inputs.size() - 2) / groups;
  for (size_t k = 0; k < n; ++k) {
    const Tensor &x = c.in(2 + k);
    int64_t numel = x.numel();
    std::vector<std::vector<double>> in(groups, std::vector<double>(numel));
    for (int g = 0; g < groups; ++g)
      for (int64_t e = 0; e < numel; ++e)
        in[g][e] = c.in(2 + g * n + k).getDouble(e);
    std::vector<std::vector<double>> out(groups - 1, std::vector<double>(numel));
    update(in, out);
    for (int g = 0; g < groups - 1; ++g) {
      size_t r = g * n + k;
      if (r >= c.outputs.size())
        continue;
      for (int64_t e = 0; e < numel; ++e)
        c.out(r).setDouble(e, out[g][e]);
    }
  }
}

void adamKernel(KernelContext &c) {
  double alpha = c.f("alpha"), beta = c.f("beta"), eps = c.f("epsilon");
  double norm = c.f("norm_coefficient"), post = c.f("norm_coefficient_post");
  double r = c.in(0).getDouble(0);
  int64_t t = c.in(1).getInt(0);
  // Bias correction only from the first counted update on (T > 0), as the op doc says.
  double rAdj =
      t > 0 ? r * std::sqrt(1 - std::pow(beta, (double)t)) / (1 - std::pow(alpha, (double)t)) : r;
  runOptimizer(c, [&](const auto &in, auto &out) {
    for (size_t e = 0; e < in[0].size(); ++e) {
      double x = in[0][e], g = norm * x + in[1][e];
      double v = alpha * in[2][e] + (1 - alpha) * g;
      double h = beta * in[3][e] + (1 - beta) * g * g;
      double xNew = x - rAdj * v / (std::sqrt(h) + eps);
      out[0][e] = (1 - post) * xNew;
      out[1][e] = v;
      out[2][e] = h;
    }
  });
}

void adagradKernel(KernelContext &c) {
  double decay = c.f("decay_factor"), eps = c.f("epsilon"), norm = c.f("norm_coefficient");
  double r = c.in(0).getDouble(0) / (1 + (double)c.in(1).getInt(0) * decay);
  runOptimizer(c, [&](const auto &in, auto &out) {
    for (size_t e = 0; e < in[0].size(); ++e) {
      double x = in[0][e], g = norm * x + in[1][e];
      double h = in[2][e] + g * g;
      out[0][e] = x - r * g / (std::sqrt(h) + eps);
      out[1][e] = h;
    }
  });
}

void momentumKernel(KernelContext &c) {
  double alpha = c.f("alpha"), norm = c.f("norm_coefficient");
  double r = c.in(0).getDouble(0);
  // The gradient's coefficient is 1 on the first update (T = 0).
  double beta = c.in(1).getInt(0) > 0 ? c.f("beta") : 1.0;
  bool nesterov = c.s("mode") == "nesterov";
  runOptimizer(c, [&](const auto &in, auto &out) {
    for (size_t e = 0; e < in[0].size(); ++e) {
      double x = in[0][e], g = norm * x + in[1][e];
      double v = alpha * in[2][e] + beta * g;
      out[0][e] = x - r * (nesterov ? g + alpha * v : v);
      out[1][e] = v;
    }
  });
}

OpSchema optimizerSchema(const char *name, std::vector<AttrSpec> attrs, KernelFn kernel) {
  OpSchema s;
  s.name = name;
  s.domain = kTraining;
  s.minInputs = 3;
  s.maxInputs = std::numeric_limits<int>::max();
  s.maxOutputs = std::numeric_limits<int>::max();
  s.attrs = std::move(attrs);
  s.infer = inferOptimizer;
  s.kernel = std::move(kernel);
  return s;
}

std::vector<TensorType> inferGradient(InferContext &c) {
  std::vector<std::string> xs =
      c.op.hasAttr("xs") ? c.op.attr("xs")->strings() : std::vector<std::string>{};
  std::vector<std::string> zs =
      c.op.hasAttr("zs") ? c.op.attr("zs")->strings() : std::vector<std::string>{};
  c.require(!xs.empty(), "attribute 'xs' names no tensor to differentiate with respect to");
  c.require(!c.s("y").empty(), "attribute 'y' must name the tensor to differentiate");
  c.require(c.numOperands() == xs.size() + zs.size(), "expects one input per name in xs and zs (",
            xs.size() + zs.size(), "), got ", c.numOperands());
  c.require(c.numResults <= xs.size(), "has ", c.numResults, " results but xs names ", xs.size(),
            " tensors");
  std::vector<TensorType> types;
  for (size_t i = 0; i < c.numOperands(); ++i) {
    c.require(c.hasOperand(i), "input ", i, " ('", i < xs.size() ? xs[i] : zs[i - xs.size()],
              "') is missing");
    if (i < xs.size()) {
      c.require(isFloat(c.dtype(i)), "xs tensor '", xs[i],
                "' must be float or double to have a gradient, got ", c.type(i).str());
      types.push_back(c.type(i));
    }
  }
  return types;
}

} // namespace

void registerTrainingOps(OpRegistry &r) {
  auto f = [](const char *name, double v) { return AttrSpec{name, AttrKind::Float, Attribute(v)}; };
  auto required = [](const char *name, AttrKind k) { return AttrSpec{name, k, std::nullopt}; };
  // ONNX's defaults are f32 values; these are those f32 values, exactly.
  r.add(optimizerSchema("Adam",
                        {f("alpha", (double)0.9f), f("beta", (double)0.999f),
                         f("epsilon", (double)1e-6f), f("norm_coefficient", 0.0),
                         f("norm_coefficient_post", 0.0)},
                        adamKernel));
  r.add(optimizerSchema(
      "Adagrad", {f("decay_factor", 0.0), f("epsilon", (double)1e-6f), f("norm_coefficient", 0.0)},
      adagradKernel));
  r.add(optimizerSchema("Momentum",
                        {required("alpha", AttrKind::Float), required("beta", AttrKind::Float),
                         required("mode", AttrKind::String),
                         required("norm_coefficient", AttrKind::Float)},
                        momentumKernel));

  OpSchema g;
  g.name = "Gradient";
  g.domain = kTraining;
  g.minInputs = 1;
  g.maxInputs = std::numeric_limits<int>::max();
  g.maxOutputs = std::numeric_limits<int>::max();
  g.attrs = {required("xs", AttrKind::Strings), required("y", AttrKind::String),
             AttrSpec{"zs", AttrKind::Strings, std::nullopt, /*optional=*/true}};
  g.infer = inferGradient;
  g.kernel = [](KernelContext &c) {
    c.error("Gradient ops are not run directly: expand them into the adjoint "
            "graph first ",
            "(adjoint-opt --expand-gradient; adjoint-run does so itself)");
  };
  g.foldable = false;
  r.add(std::move(g));
}

} // namespace adjoint

#include "CodeGen/Loops.h"

#include <algorithm>

namespace adjoint {

int64_t LoopSpace::total() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

std::vector<int64_t> broadcastStridesTo(const Shape &in, const Shape &out) {
  // An operand of higher rank has only 1s in front (Clip's bound f32[1] on a scalar).
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> inStrides = stridesOf(in);
  for (size_t k = 1; k <= std::min(in.size(), out.size()); ++k)
    st[out.size() - k] = in[in.size() - k] == 1 ? 0 : inStrides[in.size() - k];
  return st;
}

LoopSpace coalesce(const LoopSpace &s) {
  LoopSpace r;
  r.strides.resize(s.strides.size());
  for (size_t d = 0; d < s.dims.size(); ++d) {
    if (s.dims[d] == 1)
      continue;
    bool merge = !r.dims.empty();
    for (size_t a = 0; merge && a < s.strides.size(); ++a)
      merge = r.strides[a].back() == s.strides[a][d] * s.dims[d];
    if (merge) {
      r.dims.back() *= s.dims[d];
      for (size_t a = 0; a < s.strides.size(); ++a)
        r.strides[a].back() = s.strides[a][d];
      continue;
    }
    r.dims.push_back(s.dims[d]);
    for (size_t a = 0; a < s.strides.size(); ++a)
      r.strides[a].push_back(s.strides[a][d]);
  }
  if (r.dims.empty()) {
    r.dims.push_back(1);
    for (auto &st : r.strides)
      st.push_back(0);
  }
  return r;
}

void emitLoop(Builder &b, llvm::Value *begin, llvm::Value *end,
              const std::function<void(Builder &, llvm::Value *)> &body, const char *name) {
  llvm::BasicBlock *pre = b.GetInsertBlock();
  llvm::Function *f = pre->getParent();
  auto *header = llvm::BasicBlock::Create(b.getContext(), std::string(name) + ".loop", f);
  auto *exit = llvm::BasicBlock::Create(b.getContext(), std::string(name) + ".end", f);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode *iv = b.CreatePHI(begin->getType(), 2, name);
  iv->addIncoming(begin, pre);
  body(b, iv);
  llvm::Value *next = b.CreateAdd(iv, llvm::ConstantInt::get(iv->getType(), 1), "", true, true);
  iv->addIncoming(next, b.GetInsertBlock());
  b.CreateCondBr(b.CreateICmpSLT(next, end), header, exit);
  b.SetInsertPoint(exit);
}

namespace {

void emitLevel(Builder &b, CodegenContext &cg, const LoopSpace &s, size_t d,
               std::vector<llvm::Value *> offsets, llvm::Value *begin, llvm::Value *end,
               const std::function<void(Builder &, const std::vector<llvm::Value *> &)> &body) {
  if (d == s.dims.size()) {
    body(b, offsets);
    return;
  }
  llvm::Value *lo = d == 0 ? begin : cg.i64c(0);
  llvm::Value *hi = d == 0 ? end : cg.i64c(s.dims[d]);
  std::string name = std::string("i").append(std::to_string(d));
  emitLoop(
      b, lo, hi,
      [&](Builder &b, llvm::Value *iv) {
        std::vector<llvm::Value *> inner = offsets;
        for (size_t a = 0; a < inner.size(); ++a) {
          int64_t st = s.strides[a][d];
          if (st != 0)
            inner[a] = b.CreateAdd(inner[a], b.CreateMul(iv, cg.i64c(st), "", true, true), "",
                                   true, true);
        }
        emitLevel(b, cg, s, d + 1, inner, begin, end, body);
      },
      name.c_str());
}

} // namespace

void emitLoops(Builder &b, CodegenContext &cg, const LoopSpace &s, llvm::Value *begin,
               llvm::Value *end,
               const std::function<void(Builder &, const std::vector<llvm::Value *> &)> &body) {
  std::vector<llvm::Value *> offsets(s.strides.size(), cg.i64c(0));
  emitLevel(b, cg, s, 0, offsets, begin, end, body);
}

} // namespace adjoint

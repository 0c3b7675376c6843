#include "IR/Tensor.h"
#include "Ops/KernelUtil.h"

#include <gtest/gtest.h>

using namespace adjoint;

TEST(Tensor, CastAndReshapeShareSemantics) {
  Tensor t = Tensor::fromVector<float>({2, 2}, {1.5f, -2.f, 0.f, 3.f});
  Tensor i = t.cast(DType::I64);
  EXPECT_EQ(i.data<int64_t>()[0], 1);
  EXPECT_EQ(i.data<int64_t>()[1], -2);
  Tensor b = t.cast(DType::Bool);
  EXPECT_FALSE(b.data<bool>()[2]);
  Tensor r = t.reshaped({4});
  EXPECT_EQ(r.shape(), (Shape{4}));
  r.data<float>()[0] = 9.f; // detaches: t is unchanged
  EXPECT_EQ(t.data<float>()[0], 1.5f);
  EXPECT_THROW(t.reshaped({3}), Error);
}

TEST(Shape, BroadcastFollowsNumpy) {
  EXPECT_EQ(broadcastShapes({2, 1, 3}, {4, 1}), (Shape{2, 4, 3}));
  EXPECT_EQ(broadcastShapes({}, {5}), (Shape{5}));
  EXPECT_EQ(broadcastShapes({0, 1}, {1, 3}), (Shape{0, 3}));
  EXPECT_THROW(broadcastShapes({2, 3}, {4}), Error);
}

TEST(Shape, OverflowIsAnError) {
  EXPECT_THROW(numElements({1LL << 40, 1LL << 40}), Error);
  EXPECT_THROW(numElements({-1, 2}), Error);
}

TEST(KernelUtil, ForEachBroadcastVisitsInputIndices) {
  Shape out{2, 3}, a{2, 1}, b{3};
  std::vector<std::pair<int64_t, int64_t>> seen;
  forEachBroadcast<2>(out, {&a, &b}, [&](int64_t, const std::array<int64_t, 2> &ix) {
    seen.push_back({ix[0], ix[1]});
  });
  std::vector<std::pair<int64_t, int64_t>> want{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}};
  EXPECT_EQ(seen, want);
}

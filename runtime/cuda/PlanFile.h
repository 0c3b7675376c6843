#pragma once
// gpu::Plans as files, so a plan compiled on one machine runs on another that has only a CUDA
// driver (bench/gpu/replay.cpp; bench/gpu-check --prepare / --replay). A little-endian binary
// with a magic and a version; reading checks every length against the file.
#include "GpuPlan.h"

#include <string>

namespace adjoint::gpu {

void writePlanFile(const std::string &path, const Plan &plan);
// Throws std::runtime_error naming the file for a short, damaged or foreign file.
Plan readPlanFile(const std::string &path);

// The same format as bytes (a plan embedded in an adjoint-compile --target=cuda trainer);
// `what` names the bytes' origin in errors ("plan file 'x.plan'", "the plan of step 3").
std::string serializePlan(const Plan &plan);
Plan parsePlan(const std::string &bytes, const std::string &what);

} // namespace adjoint::gpu

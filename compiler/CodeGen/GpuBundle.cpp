#include "CodeGen/GpuBundle.h"
#include "Support/Error.h"
#include "cuda/PlanFile.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace adjoint {

namespace {

int slotOf(const gpu::Plan &p, const std::string &name, bool output) {
  for (size_t i = 0; i < p.slots.size(); ++i)
    if (p.slots[i].name == name && p.slots[i].output == output)
      return (int)i;
  fail("GPU bundle: the plan of @", p.entry, " has no ", output ? "output" : "input", " '", name, "'");
}

} // namespace

std::string gpuExportDir(const std::string &what) {
  const char *root = std::getenv("ADJOINT_GPU_EXPORT");
  if (!root || !*root)
    return "";
  std::string stem;
  for (char c : what)
    stem += std::isalnum((unsigned char)c) || c == '-' || c == '.' ? c : '_';
  // Cases of several dtypes share a description: the later ones get a number.
  std::filesystem::path dir = std::filesystem::path(root) / stem;
  for (int k = 2; std::filesystem::exists(dir); ++k)
    dir = std::filesystem::path(root) / (stem + "." + std::to_string(k));
  return dir.string();
}

void writeGpuBundle(const std::string &dir, const GpuBundle &b) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  check(!ec, "cannot create '", dir, "': ", ec.message());
  gpu::writePlanFile((std::filesystem::path(dir) / "plan.adjplan").string(), b.plan);
  std::ofstream m(std::filesystem::path(dir) / "manifest.txt");
  int files = 0;
  auto tensor = [&](const Tensor &t) {
    std::ostringstream name, line;
    // All-zero tensors (fresh optimizer state) are written as `zero`: bundles travel.
    bool zero = true;
    for (size_t i = 0; zero && i < t.byteSize(); ++i)
      zero = t.bytes()[i] == 0;
    if (zero) {
      line << dtypeName(t.dtype()) << " " << t.numel() << " zero";
      return line.str();
    }
    name << "t" << files++ << ".bin";
    std::ofstream f(std::filesystem::path(dir) / name.str(), std::ios::binary);
    f.write(reinterpret_cast<const char *>(t.bytes()), (std::streamsize)t.byteSize());
    check(f.good(), "cannot write '", dir, "/", name.str(), "'");
    line << dtypeName(t.dtype()) << " " << t.numel() << " " << name.str();
    return line.str();
  };
  m << "kind " << b.kind << "\n";
  for (const auto &[k, v] : b.info)
    m << "info " << k << " " << v << "\n";
  m << "tolerance " << b.f32 << " " << b.f64 << " " << b.ofMax << "\n";
  for (const auto &[name, t] : b.inputs)
    m << "input " << slotOf(b.plan, name, false) << " " << tensor(t) << "\n";
  for (const auto &[name, t] : b.expect)
    m << "expect " << slotOf(b.plan, name, true) << " " << tensor(t) << "\n";
  for (size_t i = 0; i < b.plan.slots.size(); ++i) {
    const std::string &n = b.plan.slots[i].name;
    if (b.plan.slots[i].output && n.rfind("new.", 0) == 0) {
      for (size_t j = 0; j < b.plan.slots.size(); ++j)
        if (!b.plan.slots[j].output && b.plan.slots[j].name == n.substr(4) && b.plan.slots[i].inPlaceOf != (int)j &&
            b.kind != "check")
          m << "feedback " << i << " " << j << "\n";
    }
  }
  for (size_t k = 0; k < b.batches.size(); ++k)
    for (const auto &[name, t] : b.batches[k])
      m << "batch " << k << " " << slotOf(b.plan, name, false) << " " << tensor(t) << "\n";
  if (b.kind != "check") {
    m << "steps " << b.steps << "\n";
    m << "stepslot " << slotOf(b.plan, "step", false) << "\n";
    m << "loss " << slotOf(b.plan, "loss", true) << "\n";
  }
  if (!b.curve.empty()) {
    m.precision(17);
    m << "curve";
    for (double v : b.curve)
      m << " " << v;
    m << "\n";
  }
  check(m.good(), "cannot write '", dir, "/manifest.txt'");
}

} // namespace adjoint

// adjoint-opt: runs a pipeline of passes over a model (.onnx or .adj) and prints the result, as
// mlir-opt does. See --help.
#include "CodeGen/Emit.h"
#include "CodeGen/NvptxLowering.h"
#include "Frontend/OnnxExporter.h"
#include "Frontend/TensorIO.h"
#include "IR/Parser.h"
#include "IR/Printer.h"
#include "Ops/Verify.h"
#include "Support/Error.h"
#include "Transforms/MemoryPlan.h"
#include "Transforms/PassManager.h"
#include "common/ToolSupport.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

using namespace adjoint;
using namespace adjoint::tools;

static void printHelp() {
  std::cout << "usage: adjoint-opt [PASSES] [OPTIONS] INPUT.(adj|onnx) [-o OUT.(adj|onnx)]\n"
               "\nRuns the given passes in order on every function and prints the IR (.adj)\n"
               "to stdout, or writes OUT (.onnx exports a model, anything else is .adj).\n"
               "\npasses:\n";
  for (const auto &p : allPasses()) {
    std::cout << "  --" << p.name << std::string(p.name.size() < 20 ? 20 - p.name.size() : 1, ' ')
              << p.description << "\n";
    for (const auto &[name, help] : p.options)
      std::cout << "      --" << name << "=..." << std::string(name.size() < 14 ? 14 - name.size() : 1, ' ')
                << help << "\n";
  }
  std::cout << "\noptions:\n"
               "  --print-ir-after-all   print the IR after each pass\n"
               "  --verify-each          verify the IR after each pass\n"
               "  --debug-only=P[,P]     passes P explain what they decline to do (stderr)\n"
               "  --stats                print pass statistics (stderr)\n"
               "  --print-memory-plan    after the IR, print each top-level function's memory plan\n"
               "                         (arena offsets, lifetimes, in-place reuse)\n"
               "  --split-input-file     treat '// -----' lines as separate inputs\n"
               "  --dim NAME=N           bind a symbolic ONNX dimension\n"
            << kMaxTensorBytesHelp <<
               "  --elide-above=N        print data of tensors with at most N elements\n"
               "                         (default 16 to stdout; -1 prints everything)\n"
               "  -o PATH                write the result to PATH instead of stdout\n"
               "\ncode generation:\n"
               "  --emit=llvm|asm        instead of the IR, print each top-level function compiled\n"
               "                         for the CPU: optimized LLVM IR, or assembly\n"
               "  --emit=llvm-lowered    the LLVM IR before optimization\n"
               "  --emit=ptx             the NVIDIA GPU plan (steps as comments) and its PTX\n"
               "  --gpu-arch=sm_NN       the GPU architecture for --emit=ptx (default sm_90)\n"
               "  --mcpu=CPU             the CPU to compile for (default: this machine's)\n"
               "  --mattr=+F,-G          CPU features to add or remove (LLVM names)\n"
               "  --no-memory-plan       one workspace region per intermediate (no arena reuse)\n";
}

namespace {
struct Options {
  std::vector<const PassInfo *> passes;
  PipelineOptions pipeline;
  PassContext ctx;
  ImportOptions import;
  bool stats = false, split = false, elideGiven = false, memoryPlan = false;
  std::string input, output;
  std::string emit; // "", "llvm" or "asm"
  TargetOptions target;
  LoweringOptions lowering;
  std::string gpuArch = NvptxTarget::kDefaultArch;
};
} // namespace

static Options parseArgs(int argc, char **argv) {
  Options o;
  for (ArgCursor args(argc, argv); args.next();) {
    const std::string &a = args.arg();
    auto value = [&](const std::string &flag) { return args.value(flag); };
    auto is = [&](const std::string &flag) { return args.is(flag); };
    if (a == "--help" || a == "-h") {
      printHelp();
      std::exit(0);
    } else if (a == "--print-ir-after-all") {
      o.pipeline.printAfterAll = true;
    } else if (a == "--verify-each") {
      o.pipeline.verifyEach = true;
    } else if (a == "--stats") {
      o.stats = true;
    } else if (a == "--print-memory-plan") {
      o.memoryPlan = true;
    } else if (is("--emit")) {
      o.emit = value("--emit");
      check(o.emit == "llvm" || o.emit == "asm" || o.emit == "llvm-lowered" || o.emit == "ptx",
            "--emit expects llvm, llvm-lowered, asm or ptx, got '", o.emit, "'");
    } else if (is("--gpu-arch")) {
      o.gpuArch = value("--gpu-arch");
    } else if (is("--mcpu")) {
      o.target.cpu = value("--mcpu");
    } else if (is("--mattr")) {
      o.target.features = value("--mattr");
    } else if (a == "--no-memory-plan") {
      o.lowering.memoryPlan = false;
    } else if (a == "--split-input-file") {
      o.split = true;
    } else if (is("--debug-only")) {
      std::stringstream ss(value("--debug-only"));
      for (std::string p; std::getline(ss, p, ',');)
        o.ctx.debugOnly.insert(p);
      o.ctx.debugStream = &std::cerr;
    } else if (is("--max-tensor-bytes")) {
      parseMaxTensorBytes(value("--max-tensor-bytes"));
    } else if (is("--dim")) {
      parseDimBinding(value("--dim"), o.import);
    } else if (is("--elide-above")) {
      o.pipeline.elideAbove = parseInt(value("--elide-above"), "--elide-above");
      o.elideGiven = true;
    } else if (a == "-o") {
      o.output = args.value("-o");
    } else if (a.rfind("--", 0) == 0) {
      size_t eq = a.find('=');
      std::string key = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      // --PASS runs a pass; --PASS=VALUE runs it with options[PASS] = VALUE
      // (--attach-loss=mse:y, --optimizer=adam).
      if (const PassInfo *p = findPass(key)) {
        o.passes.push_back(p);
        if (eq != std::string::npos)
          o.ctx.options[key] = a.substr(eq + 1);
        continue;
      }
      bool known = false;
      for (const auto &p : allPasses())
        for (const auto &opt : p.options)
          known |= opt.first == key;
      if (!known || eq == std::string::npos)
        fail("unknown option or pass '", a, "' (see --help)");
      o.ctx.options[key] = a.substr(eq + 1);
    } else {
      check(o.input.empty(), "more than one input given: '", o.input, "' and '", a, "'");
      o.input = a;
    }
  }
  check(!o.input.empty(), "no input file (see --help)");
  return o;
}

static void writeResult(const Module &m, Options &o) {
  if (o.output.empty()) {
    PrintOptions po;
    po.elideAbove = o.pipeline.elideAbove;
    printModule(std::cout, m, po);
    return;
  }
  if (hasSuffix(o.output, ".onnx")) {
    check(m.functions().size() == 1, "-o ", o.output, ": an ONNX model holds one function, got ",
          m.functions().size());
    exportOnnxFile(*m.main(), o.output);
    return;
  }
  std::ostringstream os;
  PrintOptions po;
  po.elideAbove = o.elideGiven ? o.pipeline.elideAbove : -1;
  printModule(os, m, po);
  writeFileAtomic(o.output, os.str());
}

// Plans of the top-level functions: a kernel body (adjoint.Kernel's `body`) runs inside its
// kernel's loop nest and has no buffers of its own.
static void printMemoryPlans(const Module &m) {
  std::set<std::string> bodies;
  for (const auto &f : m.functions())
    for (const auto &op : f->ops())
      if (op->domain() == "adjoint" && op->opType() == "Kernel" && op->hasAttr("body") &&
          op->attr("body")->kind() == AttrKind::String)
        bodies.insert(op->attr("body")->s());
  for (const auto &f : m.functions()) {
    if (bodies.count(f->name()))
      continue;
    MemoryPlan plan = planMemory(*f);
    verifyMemoryPlan(*f, plan);
    printMemoryPlan(std::cout, *f, plan);
  }
}

static int processModule(Module &m, Options &o) {
  runPipeline(m, o.passes, o.ctx, o.pipeline);
  if (!o.emit.empty()) {
    check(o.output.empty(), "-o and --emit cannot be combined: --emit prints to stdout");
    if (o.emit == "ptx") {
      GpuOptions g;
      g.arch = o.gpuArch;
      g.lowering = o.lowering;
      emitPtxModule(std::cout, m, g);
      return 0;
    }
    EmitKind kind = o.emit == "asm"            ? EmitKind::Assembly
                    : o.emit == "llvm-lowered" ? EmitKind::LoweredIR
                                               : EmitKind::LlvmIR;
    emitModule(std::cout, m, kind, o.target, o.lowering);
    return 0;
  }
  writeResult(m, o);
  if (o.memoryPlan)
    printMemoryPlans(m);
  return 0;
}

// With --split-input-file each chunk is its own module; an error in one is printed and the
// others still run (as mlir-opt does), and the exit code says whether any failed.
static int runSplit(Options &o) {
  std::ifstream in(o.input);
  check(in.good(), "cannot open '", o.input, "'");
  std::vector<std::string> chunks(1);
  std::vector<int> firstLine{1};
  int lineNo = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineNo;
    if (line.rfind("// -----", 0) == 0) {
      chunks.emplace_back();
      firstLine.push_back(lineNo + 1);
      continue;
    }
    chunks.back() += line + "\n";
  }
  int rc = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    // Pad with newlines so parse errors report the line in the original file.
    std::string text = std::string((size_t)firstLine[i] - 1, '\n') + chunks[i];
    int r = runTool("adjoint-opt", [&] {
      auto m = parseModule(text, o.input);
      verifyModule(*m);
      return processModule(*m, o);
    });
    rc |= r;
    if (i + 1 < chunks.size() && o.output.empty())
      std::cout << "// -----\n";
  }
  return rc;
}

int main(int argc, char **argv) {
  std::ios::sync_with_stdio(false);
  return runTool("adjoint-opt", [&] {
    Options o = parseArgs(argc, argv);
    o.pipeline.irStream = &std::cout;
    int rc = o.split ? runSplit(o) : [&] {
      auto m = loadModule(o.input, o.import);
      return processModule(*m, o);
    }();
    if (o.stats)
      for (const auto &[k, v] : o.ctx.stats)
        std::cerr << "stat " << k << " = " << v << "\n";
    return rc;
  });
}

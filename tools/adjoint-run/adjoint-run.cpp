// adjoint-run: runs a model on given inputs and writes every output as .npy; with --loss it
// also attaches a loss, differentiates, and writes loss.npy and grad.<initializer>.npy.
//   adjoint-run MODEL.(onnx|adj) [--backend=interp] [--input NAME=PATH]... [--output-dir DIR]
//               [--dim name=N]... [--loss=KIND --target PATH [--train-mode] [--freeze=P,...]]
#include "Frontend/TensorIO.h"
#include "Interpreter/Interpreter.h"
#include "Support/Error.h"
#include "Transforms/PassManager.h"
#include "common/ToolSupport.h"

#include <filesystem>
#include <iostream>
#include <map>

using namespace adjoint;
using namespace adjoint::tools;

static void printHelp() {
  std::cout
      << "usage: adjoint-run MODEL.(onnx|adj) [--backend=interp] [--input NAME=PATH]...\n"
         "                   [--output-dir DIR] [--dim NAME=N]...\n"
         "\nRuns the model on the given inputs and writes each graph output to\n"
         "DIR/<output name>.npy (characters other than letters, digits, '_', '-' and '.' in\n"
         "the name become '_'). Inputs are .npy files or ONNX TensorProto .pb files.\n"
         "\n  --backend=interp   the reference interpreter (the only backend so far)\n"
         "  --input NAME=PATH  value of graph input NAME; every input must be given\n"
         "  --output-dir DIR   where outputs go (default: the current directory)\n"
         "  --dim NAME=N       bind a symbolic ONNX dimension (inputs bind them too)\n"
         "\ngradients:\n"
         "  --loss=KIND        attach a loss to the first output (cross-entropy, mse, l1,\n"
         "                     bce-with-logits; mean over the batch, as PyTorch) and write\n"
         "                     DIR/loss.npy and DIR/grad.<initializer>.npy for every\n"
         "                     floating-point initializer\n"
         "  --target PATH      the loss's target (class indices for cross-entropy)\n"
         "  --train-mode       BatchNormalization uses batch statistics, Dropout drops\n"
         "                     (default: inference form, as the model was exported)\n"
         "  --freeze=P,...     initializers that get no gradient\n";
}

// Output names come from the model, which may be hostile: keep them inside the output folder.
static std::string fileNameFor(const std::string &name) {
  std::string r;
  for (char c : name)
    r += (std::isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.') ? c : '_';
  if (r.empty() || r == "." || r == "..")
    r = "_" + r;
  return r;
}

int main(int argc, char **argv) {
  return runTool("adjoint-run", [&] {
    std::string model, backend = "interp", outDir = ".", loss, target, freeze;
    bool trainMode = false;
    std::vector<std::pair<std::string, std::string>> inputPaths;
    ImportOptions importOpts;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&](const std::string &flag) -> std::string {
        if (a.compare(0, flag.size() + 1, flag + "=") == 0)
          return a.substr(flag.size() + 1);
        check(i + 1 < argc, flag, " expects a value");
        return argv[++i];
      };
      auto is = [&](const std::string &flag) {
        return a == flag || a.compare(0, flag.size() + 1, flag + "=") == 0;
      };
      if (a == "--help" || a == "-h") {
        printHelp();
        return 0;
      } else if (is("--backend")) {
        backend = value("--backend");
      } else if (is("--input")) {
        inputPaths.push_back(splitAssignment(value("--input"), "--input"));
      } else if (is("--output-dir")) {
        outDir = value("--output-dir");
      } else if (is("--dim")) {
        parseDimBinding(value("--dim"), importOpts);
      } else if (is("--loss")) {
        loss = value("--loss");
      } else if (is("--target")) {
        target = value("--target");
      } else if (is("--freeze")) {
        freeze = value("--freeze");
      } else if (a == "--train-mode") {
        trainMode = true;
      } else if (a.rfind("-", 0) == 0) {
        fail("unknown option '", a, "' (see --help)");
      } else {
        check(model.empty(), "more than one model given: '", model, "' and '", a, "'");
        model = a;
      }
    }
    check(!model.empty(), "no model given (see --help)");
    check(backend == "interp", "unknown backend '", backend, "' (available: interp)");

    std::map<std::string, Tensor> inputs;
    for (const auto &[name, path] : inputPaths) {
      check(!inputs.count(name), "input '", name, "' given twice");
      inputs[name] = readTensorFile(path);
      importOpts.inputShapes[name] = inputs[name].shape();
    }
    check(loss.empty() == target.empty(),
          loss.empty() ? "--target needs --loss" : "--loss needs --target");
    check(!loss.empty() || (!trainMode && freeze.empty()),
          "--train-mode and --freeze need --loss");
    if (!target.empty()) {
      check(!inputs.count("target"), "--target and --input target=... both given");
      inputs["target"] = readTensorFile(target);
    }
    auto module = loadModule(model, importOpts);
    if (!loss.empty()) {
      // The training-step graph: the loss on the first output, then its gradients.
      PassContext ctx;
      ctx.options["attach-loss"] = loss;
      ctx.options["freeze"] = freeze;
      std::vector<const PassInfo *> passes;
      for (const char *name : {"train-mode", "attach-loss", "autodiff"}) {
        if (std::string(name) == "train-mode" && !trainMode)
          continue;
        const PassInfo *p = findPass(name);
        check(p != nullptr, "internal error: pass ", name, " is not registered");
        passes.push_back(p);
      }
      runPipeline(*module, passes, ctx, {});
    }
    const Function &fn = *module->main();
    for (Value *in : fn.inputs())
      if (!inputs.count(in->name()))
        fail(model, ": input '", in->name(), "' (", in->type().str(),
             ") was not given: pass --input ", in->name(), "=PATH");

    std::vector<Tensor> outs = interpret(fn, inputs);
    std::error_code ec;
    std::filesystem::create_directories(outDir, ec);
    check(!ec, "cannot create output directory '", outDir, "': ", ec.message());
    for (size_t i = 0; i < outs.size(); ++i)
      writeNpy((std::filesystem::path(outDir) / (fileNameFor(fn.outputs()[i].name) + ".npy")).string(),
               outs[i]);
    return 0;
  });
}

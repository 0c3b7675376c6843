# lit configuration for Adjoint's FileCheck tests. Tests live beside this file in folders that
# mirror compiler/ (IR/, Frontend/, Transforms/<pass>/).
import os
import lit.formats

config.name = "Adjoint"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".adj", ".test", ".py"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "lit.site.cfg.py.in", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.adjoint_obj_root

config.environment["PATH"] = os.pathsep.join(
    [config.adjoint_tools_dir, "/usr/lib/llvm-19/bin", config.environment.get("PATH", "")])
for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "HOME"):
    if var in os.environ:
        config.environment[var] = os.environ[var]

config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
config.substitutions.append(("%models", os.path.join(config.adjoint_src_root, "models")))

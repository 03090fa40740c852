# lit configuration for Lathe's compiler tests.
# Each test is a .lir (text IR) or .test file whose RUN: lines drive lathe-opt
# or lathe and pipe into FileCheck. Tool paths come from lit.site.cfg.py, which
# CMake writes into the build directory.
import os

import lit.formats

config.name = "lathe"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".lir", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.lathe_build_dir, "tests", "lit")

config.environment["PATH"] = os.pathsep.join(
    [config.lathe_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", os.environ["PATH"])]
)
# ASan builds: leaks are errors, and reports must be visible to the test.
config.environment["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=99"
config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=99"

config.substitutions.append(("%python", config.python))
config.substitutions.append(("%lathe-opt", os.path.join(config.lathe_tools_dir, "lathe-opt")))

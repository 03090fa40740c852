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
# Sanitizer builds: any ASan, UBSan or leak report must fail the test, even
# under `not`. lit's internal shell runs a plain `not CMD` by inverting CMD's
# exit status, so a crash, or a sanitizer's error exit, would count as the
# expected failure. So sanitizers abort (a signal, not an exit code) and `not`
# is LLVM's `not` tool, which counts a child killed by a signal as a failure
# (only `not --crash` expects one). The absolute path keeps lit from treating
# the word as its builtin.
config.environment["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:abort_on_error=1"
config.substitutions.append((r"(?<![\w./%-])not(?=\s)", os.path.join(config.llvm_tools_dir, "not")))

config.substitutions.append(("%python", config.python))
config.substitutions.append(("%lathe-opt", os.path.join(config.lathe_tools_dir, "lathe-opt")))
config.substitutions.append(("%lathe", os.path.join(config.lathe_tools_dir, "lathe")))  # after %lathe-opt: prefix

#!/usr/bin/env python3
"""Runs every test suite against one build folder and sums the results.

Each suite runs with its own tool's output streaming (so ctest's and lit's own
summaries appear as usual), then prints `<suite>: N passed, N failed[, N
skipped]`. The last line is always the total, `N passed, N failed` with
`, N skipped` when anything was skipped: CI reads that line. The counts are
also written to BUILD/test-results/summary.json for .ci/run to combine runs.
Exit status 1 when anything failed, a suite included that could not run.

Adding a suite is one function returning Counts and one SUITES entry.

usage: scripts/check.py BUILD_DIR [SUITE ...]
"""
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIT = "/usr/lib/llvm-14/build/utils/lit/lit.py"
JOBS = os.environ.get("JOBS") or str(os.cpu_count() or 2)

# Every sanitizer report must fail a test: abort instead of exiting, so a
# report is a signal that nothing (not even lit's `not`) mistakes for an
# ordinary error exit. Same settings as tests/lit/lit.cfg.py.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:abort_on_error=1",
}


@dataclasses.dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def __add__(self, other):
        return Counts(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))

    def line(self):
        text = f"{self.passed} passed, {self.failed} failed"
        return text + (f", {self.skipped} skipped" if self.skipped else "")


def run(cmd, **kwargs):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, **kwargs).returncode


def suite_failed_to_run(name, rc):
    print(f"{name}: the suite itself failed (exit {rc}) without reporting a test failure")
    return Counts(failed=1)


def unit(build, results):
    """cmocka unit tests, one ctest test per tests/unit/test_*.c."""
    junit = os.path.join(results, "ctest.xml")
    rc = run(["ctest", "--test-dir", build, "--output-on-failure", "-j", JOBS,
              "--output-junit", junit])
    if not os.path.exists(junit):
        return suite_failed_to_run("unit", rc)
    suite = ET.parse(junit).getroot()
    total = int(suite.get("tests", 0))
    failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0) or 0)
    skipped = int(suite.get("skipped", 0)) + int(suite.get("disabled", 0))
    counts = Counts(total - failed - skipped, failed, skipped)
    if rc != 0 and counts.failed == 0:
        return counts + suite_failed_to_run("unit", rc)
    return counts


LIT_PASS = {"PASS", "XFAIL", "FLAKYPASS"}
LIT_SKIP = {"UNSUPPORTED", "SKIPPED", "EXCLUDED"}


def lit(build, results):
    """lit tests: tests/lit/**/*.lir and *.test, RUN lines through FileCheck."""
    site = os.path.join(build, "tests", "lit")
    out = os.path.join(results, "lit.json")
    python = venv_python(build)
    rc = run([python, LIT, "-sv", "--no-progress-bar", "-j", JOBS, "-o", out, site])
    if not os.path.exists(out):
        # lit writes no report when it found nothing to run.
        if rc != 0 and not has_tests(os.path.join(ROOT, "tests", "lit")):
            print("lit: no tests yet")
            return Counts()
        return suite_failed_to_run("lit", rc)
    with open(out) as f:
        tests = json.load(f).get("tests", [])
    counts = Counts()
    for t in tests:
        code = t.get("code")
        if code in LIT_PASS:
            counts.passed += 1
        elif code in LIT_SKIP:
            counts.skipped += 1
        else:
            counts.failed += 1
    if rc != 0 and counts.failed == 0:
        return counts + suite_failed_to_run("lit", rc)
    return counts


def roundtrip(build, results):
    """Every valid lit input prints back to itself (tests/roundtrip)."""
    out = os.path.join(results, "roundtrip.json")
    rc = run([venv_python(build), os.path.join(ROOT, "tests", "roundtrip", "roundtrip.py"),
              "--lathe-opt", os.path.join(build, "bin", "lathe-opt"), "--json", out])
    if not os.path.exists(out):
        return suite_failed_to_run("roundtrip", rc)
    with open(out) as f:
        counts = Counts(**json.load(f))
    if rc != 0 and counts.failed == 0:
        return counts + suite_failed_to_run("roundtrip", rc)
    return counts


def onnx_import(build, results):
    """`lathe import` on every ONNX backend node-test model (tests/onnx)."""
    out = os.path.join(results, "onnx-import.json")
    rc = run([venv_python(build), os.path.join(ROOT, "tests", "onnx", "import_node_tests.py"),
              build, "-j", JOBS, "--json", out])
    if not os.path.exists(out):
        return suite_failed_to_run("onnx-import", rc)
    with open(out) as f:
        report = json.load(f)
    counts = Counts(report["passed"], report["failed"])
    if rc != 0 and counts.failed == 0:
        return counts + suite_failed_to_run("onnx-import", rc)
    return counts


def conformance(build, results):
    """ONNX's backend node tests through the C API, each classified pass, wrong,
    unsupported, error, crash or timeout (tests/conformance/run.py). Passes
    count as passed, unsupported as skipped, the rest as failed; the suite
    also fails when fewer pass than tests/conformance/floor says."""
    counts_file = os.path.join(results, "conformance-counts.json")
    here = os.path.join(ROOT, "tests", "conformance")
    rc = run([venv_python(build), os.path.join(here, "run.py"), "--build", build, "--jobs", JOBS,
              "--gate", os.path.join(here, "floor"), "--counts", counts_file])
    if not os.path.exists(counts_file):
        return suite_failed_to_run("conformance", rc)
    with open(counts_file) as f:
        counts = Counts(**json.load(f))
    if rc != 0 and counts.failed == 0:
        return counts + suite_failed_to_run("conformance", rc)
    return counts


SUITES = {"unit": unit, "lit": lit, "roundtrip": roundtrip, "onnx-import": onnx_import,
          "conformance": conformance}


def has_tests(folder):
    for _, _, files in os.walk(folder):
        if any(f.endswith((".lir", ".test")) for f in files):
            return True
    return False


def venv_python(build):
    python = os.path.join(build, "venv", "bin", "python")
    return python if os.path.exists(python) else (shutil.which("python3") or sys.executable)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[-1].strip())
        print("suites: " + ", ".join(SUITES))
        return 0 if argv else 2
    build = os.path.abspath(argv[0])
    names = argv[1:] or list(SUITES)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"check: unknown suite(s) {', '.join(unknown)}; known: {', '.join(SUITES)}")
        return 2
    for key, value in SANITIZER_ENV.items():
        os.environ.setdefault(key, value)
    results = os.path.join(build, "test-results")
    shutil.rmtree(results, ignore_errors=True)
    os.makedirs(results)

    per_suite = []
    for name in names:
        print(f"\n==== {name} ====", flush=True)
        counts = SUITES[name](build, results)
        print(f"{name}: {counts.line()}", flush=True)
        per_suite.append((name, counts))

    total = sum((c for _, c in per_suite), Counts())
    with open(os.path.join(results, "summary.json"), "w") as f:
        json.dump(dataclasses.asdict(total), f)
    print("\n==== summary ====")
    for name, counts in per_suite:
        print(f"  {name:<10} {counts.line()}")
    print(total.line(), flush=True)
    return 1 if total.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Runs ONNX's backend node tests through Lathe and sorts every test into a class.

The tests are the folders of onnx/backend/test/data/node in the test venv's
pinned onnx package (nothing of them is committed). Each folder goes to the C
runner (BUILD/bin/lathe-conformance: import, compile for the cpu target, run
every data set, compare), one process per test with a timeout, so a crash or
a hang costs one test and is reported as such. Verdicts:

  pass, wrong, unsupported, error   printed by the runner (runner.c says how)
  crash                             the runner died or printed no verdict
  timeout                           it ran past --timeout seconds

Lathe keeps shapes and axes as attributes, so a model whose Reshape shape or
Slice bounds arrive as graph inputs opens only when those inputs have values.
When the open fails saying such an input "must be a constant, but it is
graph input 'X'", the test runs again with X specialized to its value in each
data set (the runner's --const-input, the public API's
lathe_options_set_const_input), and the verdict records "specialized": the
names. Only inputs the importer asks for are specialized, and the report
counts those tests apart.

Every test is attributed to one ONNX op: the op type of its single node kind,
or for an `_expanded` function body the op of the test it expands.

Writes BUILD/conformance/results.json (per test and per op) unless --json
says otherwise, --markdown FILE writes the report docs/conformance.md is made
from, and --gate FLOOR_FILE makes this the CI check: the exit status is 1 when
fewer tests pass than the floor file says, or when any test is wrong, errors,
crashes or times out.

usage: run.py [--build BUILD] [--jobs N] [--timeout S] [--filter REGEX] [--sample N] [-v]
              [--json FILE | --from-json FILE] [--markdown FILE] [--gate FLOOR_FILE]
"""
import argparse
import collections
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RTOL, ATOL = 1e-3, 1e-7
CLASSES = ("pass", "wrong", "deviation", "unsupported", "error", "crash", "timeout")
# Tests whose reference data contradicts the ONNX operator spec, where Lathe
# follows the spec (and onnxruntime agrees with Lathe). A wrong verdict on one
# of these becomes "deviation": reported with the reason, not a pass, not a
# gate failure. Any other difference in such a test is still "wrong" only if
# the runner says so; keep this list short and justified.
REFERENCE_DEVIATIONS = {
    **{f"test_qlinearmatmul_{d}_int8_{t}": (
        "the test data wraps out-of-range int8 results (-236 -> 20) where the "
        "QLinearMatMul spec saturates (-> -128), as Lathe and onnxruntime do")
       for d in ("2D", "3D") for t in ("float16", "float32")},
}
# Classes that fail the gate: everything that is neither right nor cleanly
# unsupported.
FAILING = ("wrong", "error", "crash", "timeout")
# A sanitizer report must end the runner with a signal or a non-zero exit,
# never a printed verdict; the same settings as scripts/check.py.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:abort_on_error=1",
}


def node_test_dir():
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")


def op_of(test_dir):
    """The op a test exercises: its nodes' op type (every non-expanded node test
    has one kind of node), domain-qualified outside the default domain."""
    model = onnx.load(os.path.join(test_dir, "model.onnx"), load_external_data=False)
    kinds = sorted({(n.domain, n.op_type) for n in model.graph.node})
    if not kinds:
        return "(none)"
    domain, op = kinds[0]
    return f"{domain}.{op}" if domain not in ("", "ai.onnx") else op


def attribute_ops(root, names):
    ops = {}
    for name in names:
        if "_expanded" not in name:
            ops[name] = op_of(os.path.join(root, name))
    for name in names:
        if "_expanded" in name:
            base = re.sub(r"_expanded.*$", "", name)
            ops[name] = ops.get(base) or op_of(os.path.join(root, base))
    return ops


def first_line(text, limit=300):
    """The most telling line of a crash's stderr: a sanitizer's summary or
    the first line, cut to `limit` characters."""
    lines = [l for l in text.splitlines() if l.strip()]
    for l in lines:
        if "ERROR: AddressSanitizer" in l or "runtime error:" in l or "ERROR: LeakSanitizer" in l:
            return l.strip()[:limit]
    return (lines[0].strip() if lines else "")[:limit]


# The importer's refusal of a graph input it needs as a constant.
NEEDS_VALUE = re.compile(r"must be a constant, but (?:it is|it depends on) graph input '([^']*)'")
MAX_SPECIALIZED = 8


def graph_inputs(test_dir):
    """The model's graph inputs that are not initializers, in order: the K of
    input_K.pb."""
    g = onnx.load(os.path.join(test_dir, "model.onnx"), load_external_data=False).graph
    inits = {t.name for t in g.initializer}
    return [i.name for i in g.input if i.name not in inits]


def run_runner(runner, test_dir, timeout, const_inputs):
    """One runner process: its verdict dict (with "seconds")."""
    name = os.path.basename(test_dir)
    cmd = [runner, test_dir]
    for input_name, k in const_inputs:
        cmd += ["--const-input", f"{input_name}={k}"]
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
    except subprocess.TimeoutExpired:
        return {"test": name, "class": "timeout", "message": f"no verdict after {timeout:g} s",
                "seconds": round(time.monotonic() - start, 3)}
    seconds = round(time.monotonic() - start, 3)
    lines = p.stdout.strip().splitlines()
    verdict = None
    if p.returncode == 0 and lines:
        try:
            verdict = json.loads(lines[-1])
        except json.JSONDecodeError:
            verdict = None
    if verdict is None or verdict.get("class") not in CLASSES:
        how = f"killed by signal {-p.returncode}" if p.returncode < 0 else f"exit {p.returncode}"
        detail = first_line(p.stderr)
        return {"test": name, "class": "crash", "message": how + (f": {detail}" if detail else ""),
                "seconds": seconds}
    verdict["seconds"] = seconds
    return verdict


def run_one(runner, test_dir, timeout):
    name = os.path.basename(test_dir)
    const_inputs, inputs, seconds = [], None, 0.0
    while True:
        verdict = run_runner(runner, test_dir, timeout, const_inputs)
        seconds += verdict["seconds"]
        m = NEEDS_VALUE.search(verdict.get("message", "")) \
            if verdict["class"] == "unsupported" else None
        if not m or len(const_inputs) == MAX_SPECIALIZED:
            break
        inputs = inputs if inputs is not None else graph_inputs(test_dir)
        wanted = m.group(1)
        if wanted not in inputs or wanted in (n for n, _ in const_inputs):
            break
        const_inputs.append((wanted, inputs.index(wanted)))
    verdict["seconds"] = round(seconds, 3)
    if const_inputs:
        verdict["specialized"] = [n for n, _ in const_inputs]
    # Messages name the model by its path; keep them independent of where
    # the venv lives.
    if "message" in verdict:
        verdict["message"] = verdict["message"].replace(test_dir + "/", "")
    if verdict["class"] == "wrong" and name in REFERENCE_DEVIATIONS:
        verdict["class"] = "deviation"
        verdict["message"] = REFERENCE_DEVIATIONS[name] + "; " + verdict.get("message", "")
    return verdict


def reason_of(result):
    """A message with what is particular to one test taken out (paths, node
    and value names, node numbers), so that one cause in many tests sums up
    to one line: the op and the missing feature stay."""
    msg = result.get("message", "")
    msg = re.sub(r"^model\.onnx: ", "", msg)
    listed = re.match(r"\d+ unsupported nodes?: (.*)$", msg)
    if listed:
        # "2 unsupported nodes: #3 (If: subgraphs ...), 'n' (Loop: ...)"
        items = re.findall(r"(?:#\d+|'[^']*') \(((?:[^()]|\([^()]*\))*)\)", listed.group(1))
        kinds = list(dict.fromkeys(items))
        return "not imported: " + "; ".join(kinds) if kinds else msg
    msg = re.sub(r" \(node (%[A-Za-z0-9_.]+|'[^']*')\)", "", msg)
    msg = re.sub(r"of node (#\d+|'[^']*') \(", "of node (", msg)
    msg = re.sub(r"node (#\d+|'[^']*') \(", "node (", msg)
    msg = re.sub(r"(input|output|graph input|initializer|value) '[^']*'", r"\1", msg)
    return msg


def summarize(results, ops):
    per_op = collections.OrderedDict()
    for r in sorted(results, key=lambda r: (ops[r["test"]], r["test"])):
        r["op"] = ops[r["test"]]
        row = per_op.setdefault(r["op"], collections.Counter())
        row["tests"] += 1
        row[r["class"]] += 1
    counts = collections.Counter(r["class"] for r in results)
    return {c: counts.get(c, 0) for c in CLASSES}, per_op


def specialized_passes(report):
    return sorted(r["test"] for r in report["tests"]
                  if r["class"] == "pass" and r.get("specialized"))


MEANING = {
    "pass": "every output of every data set matches",
    "wrong": "an output differs in dtype, shape or values",
    "deviation": "differs from test data that contradicts the operator spec (listed in "
                 "run.py's REFERENCE_DEVIATIONS with the reason)",
    "unsupported": "a clean one-line error (status UNSUPPORTED) naming the op, attribute or type "
                   "Lathe lacks",
    "error": "any other clean error, at import, compile, data or run time",
    "crash": "the runner died (signal, sanitizer report) or printed no verdict",
    "timeout": "no verdict within the time limit",
}

HOW = """\
## How the suite runs

- **Tests.** Every folder of `onnx/backend/test/data/node` in the test venv's pinned
  onnx package (`tests/requirements.txt`): a `model.onnx` and
  `test_data_set_N/input_K.pb`, `output_K.pb`. Nothing of it is committed.
- **Runner** (`tests/conformance/runner.c`, built as `BUILD/bin/lathe-conformance`,
  public C API only): opens the model (import plus the default passes), compiles it
  for the `cpu` target (LLVM JIT, -O3, fusion, one thread), runs every data set and
  compares every output, then prints one JSON verdict line. Inputs pair with
  `input_K.pb` by position; where a .pb's element type has the width of the
  model's but another name (bfloat16 stored as UINT16), the model's type wins.
- **Specialized inputs.** Lathe keeps shapes and axes as attributes. When the
  importer refuses a model because an input it needs as a constant (a Reshape
  shape, Slice bounds, TopK's k) is a graph input, the driver runs the test
  again with that input given its value from each data set
  (`lathe_options_set_const_input`, `--const-input` on the CLI): the model is
  specialized to it, compiled once per data set, and the other inputs are fed
  as usual. Only inputs the importer names are specialized; such passes are
  counted apart below and listed at the end.
- **Driver** (`tests/conformance/run.py`, venv python): one runner process per
  test, as many at once as `--jobs` (default: the cores), each with a time limit
  (`--timeout`, default {timeout:g} s), so a crash or a hang costs one test. It
  writes `BUILD/conformance/results.json` (every verdict, per-op counts) and, with
  `--markdown`, this page.
- **Tolerance.** Floats: `|got - want| <= atol + rtol * |want|` with rtol {rtol:g},
  atol {atol:g}; NaN matches NaN, an infinity must be the same infinity.
  Integers and bools: exact.
- **Ops.** A test counts for the op type of its nodes (every non-expanded node
  test has one kind); an `_expanded` test (the op's function body) counts for the
  op it expands.
- **CI gate.** `make check` runs the suite `conformance` (scripts/check.py) in the
  normal and in the ASan+UBSan build. It prints
  `conformance: P passed, F failed, U unsupported, C crashed` and fails when a
  test is wrong, errs, crashes or times out, or when fewer tests pass than
  `tests/conformance/floor` says. Passes count as passed in check's total,
  unsupported as skipped, the rest as failed. When coverage grows, raise the
  floor to the new count in the same commit (the gate prints a reminder).
- **Cost.** In `.ci/run` on a fresh clone (2 cores, 2 workers, onnx 1.19.1)
  the whole suite took 137 s in the normal build and 320 s in the ASan+UBSan
  build, specialized reruns included: both CI builds run all of it, and the
  whole of `.ci/run` took 27.5 minutes of CI's 90.
- **Commands.** `make conformance-report` rebuilds and rewrites this page.
  One test: `BUILD/bin/lathe-conformance DIR`. Some tests:
  `BUILD/venv/bin/python tests/conformance/run.py --build BUILD --filter REGEX -v`.
"""


def markdown(report):
    c = report["counts"]
    out = []
    w = out.append
    w("# ONNX backend conformance")
    w("")
    w("<!-- Generated by `make conformance-report` (tests/conformance/run.py); do not edit. -->")
    w("")
    w(f"ONNX's backend node tests (onnx {report['onnx_version']}) through Lathe's C API: "
      "import, compile for the `cpu` target, run, compare with the reference outputs.")
    w("")
    w(f"**{report['num_tests']} tests: {c['pass']} pass, {c['wrong']} wrong, "
      f"{c['deviation']} deviations, {c['unsupported']} unsupported, {c['error']} errors, {c['crash']} crashes, "
      f"{c['timeout']} timeouts.**")
    w("")
    spec = specialized_passes(report)
    w(f"Of the {c['pass']} passes, {c['pass'] - len(spec)} ran the model as it is and "
      f"{len(spec)} with inputs Lathe needs as constants specialized to the test's values "
      "(see *Specialized inputs* below).")
    w("")
    w("| class | tests | meaning |")
    w("|---|---:|---|")
    for cls in CLASSES:
        w(f"| {cls} | {c[cls]} | {MEANING[cls]} |")
    w("")
    w(HOW.format(timeout=report["timeout_s"], rtol=RTOL, atol=ATOL))
    for cls, title in (("wrong", "Wrong results"), ("deviation", "Deviations from the test data"), ("error", "Errors"), ("crash", "Crashes"),
                       ("timeout", "Timeouts")):
        rows = [r for r in report["tests"] if r["class"] == cls]
        if not rows:
            continue
        w(f"## {title}")
        w("")
        w("| test | op | message |")
        w("|---|---|---|")
        for r in rows:
            w(f"| {r['test']} | {r['op']} | {md_escape(r.get('message', ''))} |")
        w("")
    reasons = collections.Counter(reason_of(r) for r in report["tests"]
                                  if r["class"] == "unsupported")
    w("## Why tests are unsupported")
    w("")
    w("The runner's messages with what is particular to one test (paths, node and value "
      "names) taken out, most frequent first. \"not imported\" lists the nodes the "
      "importer refused; \"unsupported op\" is the kernel lowering's refusal.")
    w("")
    w("| tests | reason |")
    w("|---:|---|")
    for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        w(f"| {n} | {md_escape(reason)} |")
    w("")
    w("## Per op")
    w("")
    w("| op | tests | pass | wrong | unsupported | errors |")
    w("|---|---:|---:|---:|---:|---:|")
    for op, row in sorted(report["ops"].items(), key=lambda kv: kv[0].lower()):
        errors = row.get("error", 0) + row.get("crash", 0) + row.get("timeout", 0)
        w(f"| {op} | {row['tests']} | {row.get('pass', 0)} | {row.get('wrong', 0)} | "
          f"{row.get('unsupported', 0)} | {errors} |")
    if spec:
        w("")
        w("## Passes with specialized inputs")
        w("")
        by_name = {r["test"]: r for r in report["tests"]}
        w("| test | inputs given their test values |")
        w("|---|---|")
        for t in spec:
            w(f"| {t} | {', '.join(by_name[t]['specialized'])} |")
    return "\n".join(out) + "\n"


def md_escape(text):
    return text.replace("|", "\\|").replace("\n", " ")


def read_floor(path):
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                return int(line)
    raise ValueError(f"{path}: no number")


def run_suite(args):
    """Runs the selected tests; the report, or None when the runner is missing."""
    runner = os.path.join(os.path.abspath(args.build), "bin", "lathe-conformance")
    if not os.access(runner, os.X_OK):
        print(f"conformance: {runner} is missing; build the lathe-conformance target")
        return None
    root = node_test_dir()
    names = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
    total_available = len(names)
    if args.filter:
        names = [n for n in names if re.search(args.filter, n)]
    if args.sample:
        names = names[::args.sample]
    ops = attribute_ops(root, names)

    start = time.monotonic()
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, runner, os.path.join(root, n), args.timeout)
                   for n in names]
        for f in concurrent.futures.as_completed(futures):
            r = f.result()
            results.append(r)
            if args.verbose or r["class"] in FAILING:
                msg = r.get("message")
                print(f"  {r['class']:<11} {r['test']}" + (f": {msg}" if msg else ""), flush=True)
    elapsed = time.monotonic() - start
    results.sort(key=lambda r: r["test"])
    counts, per_op = summarize(results, ops)
    return {
        "onnx_version": onnx.__version__,
        "num_tests": len(names),
        "num_available": total_available,
        "subset": len(names) != total_available,
        "target": "cpu",
        "rtol": RTOL,
        "atol": ATOL,
        "timeout_s": args.timeout,
        "jobs": args.jobs,
        "seconds": round(elapsed, 1),
        "counts": counts,
        "ops": per_op,
        "tests": results,
    }


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--build", default="build", help="the build folder (its bin/lathe-conformance)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS") or os.cpu_count() or 2))
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per test")
    ap.add_argument("--filter", help="only tests whose name matches this regex")
    ap.add_argument("--sample", type=int, help="only every Nth test (name order), for slow builds")
    ap.add_argument("--json", help="results file (default BUILD/conformance/results.json)")
    ap.add_argument("--markdown", help="write the Markdown report here")
    ap.add_argument("--from-json", metavar="FILE",
                    help="run nothing: report (and gate) the results FILE holds")
    ap.add_argument("--gate", metavar="FLOOR_FILE",
                    help="fail unless passes >= the floor and nothing is wrong, errs or crashes")
    ap.add_argument("--counts", help="write {passed, failed, skipped} here (for scripts/check.py)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every test's verdict")
    args = ap.parse_args(argv)
    for key, value in SANITIZER_ENV.items():
        os.environ.setdefault(key, value)

    if args.from_json:
        with open(args.from_json) as f:
            report = json.load(f)
    else:
        report = run_suite(args)
        if report is None:
            return 2
        out = args.json or os.path.join(os.path.abspath(args.build), "conformance", "results.json")
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            json.dump(report, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(report))
    counts = report["counts"]
    failed = sum(counts[c] for c in FAILING)
    crashed = counts["crash"] + counts["timeout"]
    print(f"conformance: {counts['pass']} passed, {failed} failed, {counts['unsupported']} "
          f"unsupported, {crashed} crashed (of {report['num_tests']} tests, onnx "
          f"{report['onnx_version']}; {counts['wrong']} wrong, {counts['deviation']} deviations, "
          f"{counts['error']} errors; {len(specialized_passes(report))} of the passes with "
          f"specialized inputs; {report['seconds']:.0f} s)", flush=True)
    if args.counts:
        with open(args.counts, "w") as f:
            json.dump({"passed": counts["pass"], "failed": failed,
                       "skipped": counts["unsupported"] + counts["deviation"]}, f)
    if not args.gate:
        return 0
    ok = failed == 0
    floor = read_floor(args.gate)
    if report.get("subset", report["num_tests"] != report.get("num_available")):
        print(f"conformance: a subset ran; the floor ({floor}) applies to the full suite only")
    elif counts["pass"] < floor:
        print(f"conformance: {counts['pass']} tests pass, fewer than the floor {floor} "
              f"({os.path.relpath(args.gate, ROOT)}): a regression")
        ok = False
    elif counts["pass"] > floor:
        print(f"conformance: {counts['pass']} pass, above the floor {floor}: raise it in "
              f"{os.path.relpath(args.gate, ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

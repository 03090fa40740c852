#!/usr/bin/env python3
"""Runs `lathe import` on every ONNX backend node-test model and classifies it.

The onnx package ships ~1600 one-op models (onnx/backend/test/data/node/*/
model.onnx). Each is imported and sorted into:
  verified     imported, and the text IR round-trips through lathe-opt
               unchanged (which parses and verifies it)
  unsupported  a clean one-line error saying the model is out of scope
               (unsupported op/opset/dtype, a shape input that is not constant
               even with the test's values...)
  error        a clean one-line error of another kind (worth a look: a valid
               model Lathe should take, or a model the test data contradicts)
  invalid      the importer built a graph that fails to verify
  roundtrip    imported, but lathe-opt rejects or changes the output
  crash        anything else: a signal, a sanitizer report, a multi-line or
               missing message, a timeout
The first three pass; the last three fail (the `onnx-import` suite of
scripts/check.py runs this script and counts them).

Lathe keeps shapes and axes as attributes, so when the importer reports that
such an input "must be a constant, but it is (or depends on) graph input 'X'",
the model is imported again with `--const-input X=test_data_set_0/input_K.pb`
(K: X's position among the graph inputs), the value the test itself feeds.
Only inputs the importer asks for are specialized.

usage: import_node_tests.py BUILD_DIR [--list CATEGORY] [-j N] [--filter SUBSTR]
                            [--reasons] [--json FILE]
"""
import argparse
import collections
import concurrent.futures
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

UNSUPPORTED = re.compile(
    r"unsupported node|not supported|no Lathe op|must be a constant|opset|"
    r"only tensor inputs|unranked|not available at opset"
)
NEEDS_VALUE = re.compile(r"must be a constant, but (?:it is|it depends on) graph input '([^']*)'")
PASSING = ("verified", "unsupported", "error")
FAILING = ("invalid", "roundtrip", "crash")
TIMEOUT = 120


def graph_inputs(model):
    """The model's graph inputs that are not initializers, in order."""
    import onnx  # only models that need values pay for the import

    g = onnx.load(model, load_external_data=False).graph
    inits = {t.name for t in g.initializer}
    return [i.name for i in g.input if i.name not in inits]


def import_model(lathe, model, out, values):
    cmd = [lathe, "import", model, "-o", out]
    for name, path in values:
        cmd += ["--const-input", "%s=%s" % (name, path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)


def classify(lathe, lathe_opt, model, workdir):
    """(name, category, message, names of the inputs given values)."""
    name = os.path.basename(os.path.dirname(model))
    out = os.path.join(workdir, name + ".lir")
    values, inputs = [], None
    try:
        while True:
            r = import_model(lathe, model, out, values)
            m = NEEDS_VALUE.search(r.stderr) if r.returncode == 1 else None
            if not m:
                break
            if inputs is None:
                inputs = graph_inputs(model)
            wanted = m.group(1)
            data = os.path.join(os.path.dirname(model), "test_data_set_0",
                                "input_%d.pb" % inputs.index(wanted)) if wanted in inputs else ""
            if not os.path.exists(data) or wanted in (v for v, _ in values):
                break
            values.append((wanted, data))
    except subprocess.TimeoutExpired:
        return name, "crash", "timeout", values
    given = [v for v, _ in values]
    err = r.stderr.strip()
    if r.returncode == 0:
        if err:
            return name, "crash", "success with output on stderr: " + err.splitlines()[0], given
        try:
            rt = subprocess.run([lathe_opt, out], capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return name, "crash", "lathe-opt timeout", given
        with open(out) as f:
            text = f.read()
        if rt.returncode != 0:
            kind = "roundtrip" if rt.returncode == 1 else "crash"
            return name, kind, "lathe-opt: " + (rt.stderr.strip().splitlines() or ["?"])[0], given
        if rt.stdout != text:
            return name, "roundtrip", "lathe-opt output differs from the imported text", given
        return name, "verified", "", given
    lines = err.splitlines()
    if r.returncode != 1 or len(lines) != 1 or not lines[0].startswith("lathe: error: "):
        return name, "crash", "exit %d: %s" % (r.returncode, " | ".join(lines[:3])), given
    msg = lines[0][len("lathe: error: "):].replace(model, "model.onnx")
    if "internal error" in msg:
        return name, "invalid", msg, given
    return name, "unsupported" if UNSUPPORTED.search(msg) else "error", msg, given


def reason_key(msg):
    """A short grouping key for an unsupported message."""
    m = re.search(r"unsupported nodes?: .*?\((.*?)\)", msg)
    if m:
        return m.group(1).split(":")[0] + (": " + m.group(1).split(": ", 1)[1]
                                          if ": " in m.group(1) else "")
    m = re.search(r"opset (\d+) of the default domain", msg)
    if m:
        return "opset %s" % m.group(1)
    m = re.search(r"of node \S+ \((\w+)\) must be a constant, but (.*)", msg)
    if m:
        why = re.sub(r"'[^']*'", "'...'", m.group(2))
        return "%s input not constant: %s" % (m.group(1), why)
    return re.sub(r"'[^']*'", "'...'", msg.split(": ", 1)[-1])[:80]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("--list", action="append", default=[],
                    help="print the models of this category (repeatable)")
    ap.add_argument("--filter", default="", help="only models whose name contains this")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 4)
    ap.add_argument("--reasons", action="store_true", help="histogram of unsupported reasons")
    ap.add_argument("--json", help="write the per-category counts and passed/failed here")
    args = ap.parse_args()

    build = os.path.abspath(args.build_dir)
    lathe = os.path.join(build, "bin", "lathe")
    lathe_opt = os.path.join(build, "bin", "lathe-opt")
    site = glob.glob(os.path.join(build, "venv", "lib", "python3*", "site-packages", "onnx"))
    if not site:
        sys.exit("no onnx package in %s/venv (run scripts/install-deps.sh %s)" % (build, build))
    models = sorted(glob.glob(os.path.join(site[0], "backend", "test", "data", "node", "*",
                                           "model.onnx")))
    models = [m for m in models if args.filter in m]

    start = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory() as work:
        with concurrent.futures.ThreadPoolExecutor(args.j) as pool:
            futures = [pool.submit(classify, lathe, lathe_opt, m, work) for m in models]
            for f in concurrent.futures.as_completed(futures):
                results.append(f.result())
    results.sort()
    seconds = time.monotonic() - start

    counts = collections.Counter(kind for _, kind, _, _ in results)
    given = sum(1 for _, _, _, values in results if values)
    given_verified = sum(1 for _, k, _, values in results if values and k == "verified")
    print("%d node-test models: " % len(results) +
          ", ".join("%s %d" % (k, counts.get(k, 0)) for k in PASSING + FAILING))
    print("%d imported with --const-input values from their test data (%d verified); "
          "%.1f s with -j %d" % (given, given_verified, seconds, args.j))
    for kind in args.list:
        print("\n== %s ==" % kind)
        for name, k, msg, values in results:
            if k == kind:
                note = " [--const-input %s]" % ",".join(values) if values else ""
                print("%s%s: %s" % (name, note, msg) if msg else name + note)
    for kind in FAILING:
        if counts.get(kind) and kind not in args.list:
            print("\n== %s (failing) ==" % kind)
            for name, k, msg, _ in results:
                if k == kind:
                    print("%s: %s" % (name, msg))
    if args.reasons:
        hist = collections.Counter(reason_key(msg) for _, k, msg, _ in results if k == "unsupported")
        print("\n== unsupported reasons ==")
        for reason, n in hist.most_common():
            print("%5d  %s" % (n, reason))
    passed = sum(counts.get(k, 0) for k in PASSING)
    failed = sum(counts.get(k, 0) for k in FAILING)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"passed": passed, "failed": failed, "seconds": round(seconds, 1),
                       "categories": {k: counts.get(k, 0) for k in PASSING + FAILING}}, f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Runs `lathe import` on every ONNX backend node-test model and classifies it.

The onnx package ships ~1600 one-op models (onnx/backend/test/data/node/*/
model.onnx). Each is imported and sorted into:
  verified     imported, and the text IR round-trips through lathe-opt
               unchanged (which parses and verifies it)
  roundtrip    imported, but lathe-opt rejects or changes the output
  unsupported  a clean one-line error saying the model is out of scope
               (unsupported op/opset/dtype, non-constant shape input...)
  error        a clean one-line error of another kind (worth a look: a valid
               model Lathe should take, or an importer bug)
  crash        anything else: a signal, a sanitizer report, a multi-line or
               missing message. The goal is zero.

usage: import_node_tests.py BUILD_DIR [--list CATEGORY] [-j N] [--filter SUBSTR]
"""
import argparse
import collections
import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import tempfile

UNSUPPORTED = re.compile(
    r"unsupported node|not supported|no Lathe op|must be a constant|opset|"
    r"only tensor inputs|unranked|not available at opset"
)


def classify(lathe, lathe_opt, model, workdir):
    name = os.path.basename(os.path.dirname(model))
    out = os.path.join(workdir, name + ".lir")
    try:
        r = subprocess.run([lathe, "import", model, "-o", out], capture_output=True, text=True,
                           timeout=120)
    except subprocess.TimeoutExpired:
        return name, "crash", "timeout"
    err = r.stderr.strip()
    if r.returncode == 0:
        if err:
            return name, "crash", "success with output on stderr: " + err.splitlines()[0]
        try:
            rt = subprocess.run([lathe_opt, out], capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return name, "roundtrip", "lathe-opt timeout"
        with open(out) as f:
            text = f.read()
        if rt.returncode != 0:
            kind = "crash" if rt.returncode not in (1,) else "roundtrip"
            return name, kind, "lathe-opt: " + (rt.stderr.strip().splitlines() or ["?"])[0]
        if rt.stdout != text:
            return name, "roundtrip", "lathe-opt output differs from the imported text"
        return name, "verified", ""
    lines = err.splitlines()
    if r.returncode != 1 or len(lines) != 1 or not lines[0].startswith("lathe: error: "):
        return name, "crash", "exit %d: %s" % (r.returncode, " | ".join(lines[:3]))
    msg = lines[0][len("lathe: error: "):]
    msg = msg.replace(model, "model.onnx")
    return name, "unsupported" if UNSUPPORTED.search(msg) else "error", msg


def reason_key(msg):
    """A short grouping key for an unsupported message."""
    m = re.search(r"unsupported nodes?: .*?\((.*?)\)", msg)
    if m:
        return m.group(1).split(":")[0] + (": " + m.group(1).split(": ", 1)[1]
                                          if ": " in m.group(1) else "")
    m = re.search(r"opset (\d+) of the default domain", msg)
    if m:
        return "opset %s" % m.group(1)
    return re.sub(r"'[^']*'", "'...'", msg.split(": ", 1)[-1])[:80]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir")
    ap.add_argument("--list", action="append", default=[],
                    help="print the models of this category (repeatable)")
    ap.add_argument("--filter", default="", help="only models whose name contains this")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 4)
    ap.add_argument("--reasons", action="store_true", help="histogram of unsupported reasons")
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

    results = []
    with tempfile.TemporaryDirectory() as work:
        with concurrent.futures.ThreadPoolExecutor(args.j) as pool:
            futures = [pool.submit(classify, lathe, lathe_opt, m, work) for m in models]
            for f in concurrent.futures.as_completed(futures):
                results.append(f.result())
    results.sort()

    counts = collections.Counter(kind for _, kind, _ in results)
    order = ["verified", "roundtrip", "unsupported", "error", "crash"]
    print("%d node-test models: " % len(results) +
          ", ".join("%s %d" % (k, counts.get(k, 0)) for k in order))
    for kind in args.list:
        print("\n== %s ==" % kind)
        for name, k, msg in results:
            if k == kind:
                print("%s: %s" % (name, msg) if msg else name)
    if args.reasons:
        hist = collections.Counter(reason_key(msg) for _, k, msg in results if k == "unsupported")
        print("\n== unsupported reasons ==")
        for reason, n in hist.most_common():
            print("%5d  %s" % (n, reason))
    return 1 if counts.get("crash") else 0


if __name__ == "__main__":
    sys.exit(main())

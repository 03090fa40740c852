#!/usr/bin/env python3
"""Round-trip check: the printer and the parser agree on every lit input.

For each tests/lit/**/*.lir that is valid IR (no RUN line uses `not`), runs
`lathe-opt [--split-input-file] FILE` with no passes and requires the output to
equal the file minus its full-line `//` comments, byte for byte. The one
comment line that stays is the case separator, a line exactly `// -----`,
because `lathe-opt --split-input-file` prints it between cases. So blank lines
count: a case must be written exactly as the printer prints it, with no blank
line before or after a separator. (docs/testing.md states the rule.)

Negative tests are outside the check and not counted. A file that is valid
but deliberately not canonical (a parser test for spellings the printer
normalises) opts out with a line `// NO-ROUNDTRIP: <reason>`; it is counted as
skipped, so opt-outs stay visible.

Prints one line per failure with a unified diff, then
`roundtrip: N passed, N failed, N skipped`; --json writes the counts.
Exit status 1 when anything failed.
"""
import argparse
import concurrent.futures
import difflib
import json
import os
import re
import subprocess
import sys

SEPARATOR = "// -----"
# `not` as a command word in a RUN line: a negative test, so not valid IR.
NOT_COMMAND = re.compile(r"(?<![\w./%-])not\s")
OPT_OUT = re.compile(r"^\s*//\s*NO-ROUNDTRIP:")


def run_lines(text):
    return [line.split("RUN:", 1)[1] for line in text.splitlines() if "RUN:" in line]


def is_full_line_comment(line):
    return line.lstrip(" \t").startswith("//")


def expected_output(text):
    """The file minus full-line comments that are not exactly the separator."""
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if not is_full_line_comment(line) or line.rstrip("\n") == SEPARATOR
    ]
    return "".join(kept)


def classify(text):
    """Returns 'check', 'negative' (not valid IR) or 'opt-out'."""
    if any(NOT_COMMAND.search(r) for r in run_lines(text)):
        return "negative"
    if any(OPT_OUT.match(line) for line in text.splitlines()):
        return "opt-out"
    return "check"


def check_file(lathe_opt, path, timeout):
    """Returns (ok, report) where report is empty when ok."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read()
    lines = text.splitlines()
    cmd = [lathe_opt]
    if SEPARATOR in lines:
        cmd.append("--split-input-file")
    cmd.append(path)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout}s: {' '.join(cmd)}\n"
    got = proc.stdout.decode("utf-8", errors="surrogateescape")
    err = proc.stderr.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        return False, f"lathe-opt failed ({how}): {' '.join(cmd)}\n{err}"
    want = expected_output(text)
    if got == want:
        return True, ""
    diff = difflib.unified_diff(
        want.splitlines(keepends=True),
        got.splitlines(keepends=True),
        fromfile=f"{path} (expected: without comment lines)",
        tofile="lathe-opt output",
    )
    body = "".join(line if line.endswith("\n") else line + "\n\\ no newline at end\n" for line in diff)
    if not body:  # differences a line diff can't show
        body = "outputs differ in line endings\n"
    return False, f"{' '.join(cmd)}\n{body}{err}"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lathe-opt", required=True, help="path to the lathe-opt binary")
    ap.add_argument("--root", default=os.path.join(here, "..", "lit"), help="folder of .lir files")
    ap.add_argument("--json", help="write {passed, failed, skipped} here")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per file")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every file")
    ap.add_argument("files", nargs="*", help="check only these files")
    args = ap.parse_args()

    files = args.files
    if not files:
        for dirpath, dirnames, filenames in os.walk(args.root):
            dirnames[:] = sorted(d for d in dirnames if d not in ("Inputs", "Output"))
            files += [os.path.join(dirpath, n) for n in sorted(filenames) if n.endswith(".lir")]
    files = [os.path.relpath(f) for f in files]

    todo, skipped, negative = [], 0, 0
    for path in files:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            kind = classify(f.read())
        if kind == "check":
            todo.append(path)
        elif kind == "negative":
            negative += 1
        else:
            skipped += 1
            if args.verbose:
                print(f"SKIP: {path} (NO-ROUNDTRIP)")

    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = pool.map(lambda p: check_file(args.lathe_opt, p, args.timeout), todo)
        for path, (ok, report) in zip(todo, results):
            if ok:
                passed += 1
                if args.verbose:
                    print(f"PASS: {path}")
            else:
                failed += 1
                print(f"FAIL: {path}\n{report}", end="" if report.endswith("\n") else "\n")

    print(f"Round trip: {passed} files print back unchanged, {failed} differ, {skipped} opted out "
          f"({negative} negative tests not applicable)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"passed": passed, "failed": failed, "skipped": skipped}, f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

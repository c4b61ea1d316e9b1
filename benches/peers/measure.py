#!/usr/bin/env python3
"""Runs one command several times and records its wall time and peak RSS, for benches/compare.sh.

Usage: measure.py --name NAME --tool TOOL --input INPUT --runs N --ok CODES --out DIR -- COMMAND...

Writes DIR/NAME.json (median, min and max wall time, median peak RSS, exit codes) and
DIR/NAME.stdout / DIR/NAME.stderr (the last run's output, for the verdict summary). A tool
judging its input non-compliant is expected; an exit code outside --ok (e.g. "0-2"), or death
by a signal, is a crash and makes this script fail.

Wall time comes from perf_counter around fork/exec/wait (millisecond resolution matters: rcfge
finishes in tens of milliseconds); peak RSS from wait4's rusage of the child.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time


def parse_codes(spec):
    codes = set()
    for part in spec.split(","):
        low, _, high = part.partition("-")
        codes.update(range(int(low), int(high or low) + 1))
    return codes


def run_once(command, stdout_path, stderr_path):
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux.
    return elapsed, usage.ru_maxrss, process.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--tool", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ok", default="0", help="exit codes that are verdicts, not crashes, e.g. 0-2")
    parser.add_argument("--out", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ok = parse_codes(args.ok)
    walls, rss, codes = [], [], []
    for _ in range(args.runs):
        wall, peak, code = run_once(command, out / f"{args.name}.stdout", out / f"{args.name}.stderr")
        if code not in ok:
            tail = (out / f"{args.name}.stderr").read_text(errors="replace")[-2000:]
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            sys.exit(f"measure.py: {args.tool} crashed ({how}) on {args.input}: {' '.join(command)}\n{tail}")
        walls.append(wall)
        rss.append(peak)
        codes.append(code)
    result = {
        "name": args.name,
        "tool": args.tool,
        "input": args.input,
        "runs": args.runs,
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "rss_mib": statistics.median(rss) / 1024,
        "exit_codes": sorted(set(codes)),
        "command": command,
    }
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"  {args.tool:<28} {result['median_s'] * 1000:9.1f} ms  {result['rss_mib']:7.1f} MiB  exit {result['exit_codes']}")


if __name__ == "__main__":
    main()

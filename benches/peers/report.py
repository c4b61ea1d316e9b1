#!/usr/bin/env python3
"""Turns the measurements of benches/compare.sh into one markdown report (printed and written).

Usage: report.py --times DIR --python-warm FILE [--rcfge-warm FILE] [--guard-rules DIR]
                 [--meta KEY=VALUE ...] --out FILE

Ratios are peer time ÷ rcfge time on the same input in the same run: above 1, rcfge is faster.
"""

import argparse
import json
import math
import os
import pathlib
import platform
import re

# What each tool checks, so that nobody reads the ratios as like-for-like where they are not.
CHECKS = {
    "rcfge-schema": "restricted schemas only (every template's Guard rules switched off)",
    "rcfge": "restricted schemas + Guard rules ({guarded} types)",
    "python": "restricted schemas only (jsonschema Draft7Validator + scalar coercion)",
    "cfn-lint": "provider schemas + cfn-lint's rules (not the restricted schemas)",
    "cfn-guard": "rcfge's Guard rules only ({guarded} types): the Guard-only equivalent",
    "cfn-validate": "provider schemas + its built-in rules (AWS's cloudformation-validate, one engine for all files)",
}
TOOL_LABELS = {
    "rcfge-schema": "rcfge validate (schema only)",
    "rcfge": "rcfge validate",
    "python": "Python jsonschema hook",
    "cfn-lint": "cfn-lint",
    "cfn-guard": "cfn-guard validate -r guard-rules/",
    "cfn-validate": "cloudformation-validate",
}


def load_times(directory):
    times = {}
    for path in sorted(pathlib.Path(directory).glob("*.json")):
        result = json.loads(path.read_text())
        result["stdout"] = path.with_suffix(".stdout").read_text(errors="replace")
        times[result["name"]] = result
    return times


def verdict(tool, stdout):
    """A one-line summary of what the tool concluded, from its last run's output."""
    if tool in ("rcfge", "rcfge-schema"):
        lines = [line for line in stdout.splitlines() if re.match(r"^\d+ resources?: ", line)]
        return lines[-1] if lines else "(no summary line)"
    if tool == "python":
        try:
            counts = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return "(no summary line)"
        text = f"{counts['compliant']} compliant, {counts['violating']} violating, {counts['untemplated']} without a template"
        if counts.get("unsupported"):
            text += f", {counts['unsupported']} not judged (a pattern Python's re cannot compile)"
        return text
    if tool == "cfn-lint":
        codes = re.findall(r"^([EWI]\d{4}) ", stdout, re.MULTILINE)
        if not codes:
            return "no findings"
        by_level = {level: sum(code.startswith(level) for code in codes) for level in "EWI"}
        text = f"{len(codes)} findings ({by_level['E']} E, {by_level['W']} W, {by_level['I']} I)"
        distinct = sorted(set(codes), key=lambda c: (-codes.count(c), c))
        if len(distinct) <= 6:
            text += ": " + ", ".join(f"{c} ×{codes.count(c)}" for c in distinct)
        return text
    if tool == "cfn-validate":
        try:
            summary = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return "(no summary line)"
        found = ", ".join(f"{n} {level}" for level, n in sorted(summary["diagnostics"].items())) or "none"
        failed = f", {summary['failed']} files not validated" if summary["failed"] else ""
        return f"diagnostics: {found}{failed}"
    if tool == "cfn-guard":
        failed = set()
        data = resource = None
        for line in stdout.splitlines():
            if match := re.match(r"^Evaluating data (\S+) against", line):
                data = match.group(1)
            elif match := re.match(r"^Resource = (\S+) \{", line):
                resource = match.group(1)
            elif match := re.match(r"^\s+Rule = (\S+) \{", line):
                failed.add((data, resource, match.group(1)))
        if not failed:
            return "no rule failed"
        rules = {}
        for _, _, rule in failed:
            rules[rule] = rules.get(rule, 0) + 1
        return f"{len(failed)} failures: " + ", ".join(f"{rule} ×{n}" for rule, n in sorted(rules.items()))
    return ""


def fmt_time(seconds):
    return f"{seconds * 1000:,.0f} ms" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


def section(title, note, rows, baseline):
    lines = [f"## {title}", ""]
    if note:
        lines += [note, ""]
    lines += [
        "| tool | checks | wall (median) | peak RSS | time ÷ rcfge | verdict |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in rows:
        ratio = row["median_s"] / baseline["median_s"] if baseline else float("nan")
        lines.append(
            f"| {TOOL_LABELS[row['tool']]} | {CHECKS[row['tool']]} | {fmt_time(row['median_s'])} "
            f"| {row['rss_mib']:.0f} MiB | {'1.00' if row is baseline else f'{ratio:.2f}'} "
            f"| {verdict(row['tool'], row['stdout'])} |"
        )
    return lines + [""]


def warm_section(python_path, rcfge_path, guard_dir, python_meta):
    python = json.loads(pathlib.Path(python_path).read_text())["warm"]
    rcfge = {}
    if rcfge_path and pathlib.Path(rcfge_path).is_file():
        rcfge = json.loads(pathlib.Path(rcfge_path).read_text())["warm"]
    guarded = set()
    if guard_dir:
        guarded = {p.stem for p in pathlib.Path(guard_dir).glob("*.guard")}
    lines = [
        "## Warm decision per type (one resource, compiled validator cached)",
        "",
        f"Each type's `valid-full.json`. Python: {python_meta}. rcfge: `cargo bench --bench decision -- types`"
        + ("" if rcfge else " (not run: COMPARE_SKIP_RUST_BENCH=1)")
        + ". rcfge runs the type's Guard rules too where it has them; the Python hook never does.",
        "",
        "| type | Guard rules | rcfge median | rcfge p99 | Python median | Python p99 | Python ÷ rcfge | Python verdict |",
        "|---|:---:|---:|---:|---:|---:|---:|---|",
    ]
    ratios, ratios_schema_only = [], []
    for type_name in sorted(set(python) | set(rcfge)):
        py, rc = python.get(type_name), rcfge.get(type_name)
        unsupported = py.get("unsupported") if py else None
        if unsupported:
            py = None
        has_guard = type_name.lower().replace("::", "-") in guarded
        ratio = ""
        if py and rc and rc["median_us"] > 0:
            value = py["median_us"] / rc["median_us"]
            ratios.append(value)
            if not has_guard:
                ratios_schema_only.append(value)
            ratio = f"{value:.2f}"
        cell = lambda d, k: f"{d[k]:.1f} µs" if d else "—"
        judged = "—" if not py else ("compliant" if py["compliant"] else "violating: " + "; ".join(py.get("violations", [])))
        if unsupported:
            judged = f"not run: {unsupported}"
        lines.append(
            f"| {type_name} | {'yes' if has_guard else ''} | {cell(rc, 'median_us')} | {cell(rc, 'p99_us')} "
            f"| {cell(py, 'median_us')} | {cell(py, 'p99_us')} | {ratio} | {judged} |"
        )
    geomean = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None
    if ratios:
        lines += [
            "",
            f"Geometric mean of Python ÷ rcfge over {len(ratios)} types: **{geomean(ratios):.2f}**"
            + (
                f"; over the {len(ratios_schema_only)} types without Guard rules: **{geomean(ratios_schema_only):.2f}**"
                if ratios_schema_only
                else ""
            )
            + ".",
        ]
    return lines + [""], (geomean(ratios) if ratios else None)


def cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", required=True)
    parser.add_argument("--python-warm", required=True)
    parser.add_argument("--rcfge-warm")
    parser.add_argument("--guard-rules")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    meta = dict(item.split("=", 1) for item in args.meta)
    guarded = len(list(pathlib.Path(args.guard_rules).glob("*.guard"))) if args.guard_rules else "?"
    for tool in CHECKS:
        CHECKS[tool] = CHECKS[tool].format(guarded=guarded)
    times = load_times(args.times)

    def rows(prefix):
        found = [times[name] for name in sorted(times) if name.startswith(prefix + ".")]
        order = list(TOOL_LABELS)
        found.sort(key=lambda r: order.index(r["tool"]))
        baseline = next((r for r in found if r["tool"] == "rcfge"), None)
        return found, baseline

    lines = [
        "# rcfge compared with peers (benches/compare.sh)",
        "",
        f"- Machine: {len(os.sched_getaffinity(0))} CPUs ({cpu_model()}), {platform.system()} {platform.machine()}, "
        f"kernel {platform.release()}; load average (1, 5, 15 min): {meta.get('load', '?')}",
        f"- Tools: {meta.get('versions', '')}",
        f"- Each whole-run figure is the median of {meta.get('runs', '?')} runs, wall time from outside the process "
        "(start-up included); peak RSS is the median of the runs' maxima. Time ÷ rcfge above 1 means rcfge is faster.",
        f"- Context: {meta.get('context', '')}",
        "",
    ]
    headline = []
    for prefix, title, note in [
        ("stack-json", f"Whole template: {meta.get('stack_resources', '?')} resources, JSON", meta.get("stack_note")),
        ("stack-yaml", "Whole template: the same resources, YAML", None),
        ("lint-good", f"cfn-lint's `good` fixture templates ({meta.get('good_files', '?')} files, one invocation per tool)", meta.get("good_note")),
        ("buckets", f"3,000 S3 buckets in one JSON template ({meta.get('buckets_bytes', '?')} bytes)", meta.get("buckets_note")),
        ("cdk", f"The reference CDK app ({meta.get('cdk_resources', '?')} resources in 2 templates, one invocation per tool)", meta.get("cdk_note")),
    ]:
        found, baseline = rows(prefix)
        if found:
            lines += section(title, note, found, baseline)
            for row in found:
                if baseline and row is not baseline:
                    headline.append((title, TOOL_LABELS[row["tool"]], row["median_s"] / baseline["median_s"]))
    warm_lines, geomean = warm_section(args.python_warm, args.rcfge_warm, args.guard_rules, meta.get("python_warm", ""))
    lines += warm_lines
    lines += ["## Summary: peer time ÷ rcfge time", "", "| input | peer | ratio |", "|---|---|---:|"]
    lines += [f"| {title} | {tool} | {ratio:.2f} |" for title, tool, ratio in headline]
    if geomean is not None:
        lines.append(f"| warm decision per type (geometric mean) | Python jsonschema hook | {geomean:.2f} |")
    text = "\n".join(lines) + "\n"
    pathlib.Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Validates templates with AWS's cloudformation-validate, for benches/compare.sh.

Usage: cfn_validate.py FILE...

One engine (`CompositeEngine`, its built-in rules and the provider schemas it bundles) validates
every file in turn, as a CI job would. The last line printed is a JSON summary: files, how many
could not be validated, and the diagnostics by severity. Exit 0 when every file was validated.
"""

import json
import sys

from cloudformation_validate import CompositeEngine


def main():
    engine = CompositeEngine()
    severities = {}
    failed = 0
    for path in sys.argv[1:]:
        try:
            report = engine.validate_template(path)
        except Exception as error:  # a template the engine cannot read: counted, not fatal
            failed += 1
            print(f"{path}: {error}", file=sys.stderr)
            continue
        for diagnostic in report.diagnostics:
            name = diagnostic.severity.name
            severities[name] = severities.get(name, 0) + 1
    print(json.dumps({"files": len(sys.argv) - 1, "failed": failed, "diagnostics": severities}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

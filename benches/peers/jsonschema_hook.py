#!/usr/bin/env python3
"""The rcfge decision written the straightforward way in Python, as a peer for benches/compare.sh.

For each resource type: the restricted schema as rcfge renders it (one file per type,
<stem>.json, written by `rcfge render`), compiled once into a jsonschema.Draft7Validator and
kept, as a warm Lambda function would. A decision coerces the hook's string scalars ("true",
"5") to the types the schema expects, as rcfge does, then collects every validation error.
Guard rules are not run: this is the schema-only equivalent.

Modes:
  warm  [--schemas DIR] [--fixtures DIR] [--warmup N] [--iterations N] [--out FILE]
        Time single decisions on each type's valid-full.json fixture; print
        {"warm": {"<Type>": {"median_us", "p99_us", "compliant"}}, ...} as JSON (the format of
        rcfge's benchmark, so the two join on the type name).
  stack FILE [--schemas DIR]
        Validate every resource of a CloudFormation template (JSON, or YAML without short-form
        tags) as a CLI run would; print the counts. Exit 0 when every resource is compliant.
"""

import argparse
import copy
import json
import pathlib
import re
import statistics
import sys
import time

from jsonschema import Draft7Validator

ROOT = pathlib.Path(__file__).resolve().parents[2]


def stem_for(type_name):
    # The file naming rcfge uses for templates: AWS::S3::Bucket -> aws-s3-bucket.
    return type_name.lower().replace("::", "-")


class Coercer:
    """Converts string scalars to the boolean or number the schema expects at their location.

    Follows type/properties/patternProperties/additionalProperties/items, local $refs,
    allOf/anyOf/oneOf and if/then/else/not, as rcfge's normaliser does. Only exact conversions: anything else is left for the validator to
    refuse.
    """

    INTEGER = re.compile(r"-?[0-9]+\Z")
    DECIMAL = re.compile(r"[-+0-9.eE]*[0-9][-+0-9.eE]*\Z")

    def __init__(self, schema):
        self.root = schema
        self.patterns = {}
        self._collect_patterns(schema)

    def _collect_patterns(self, node):
        if isinstance(node, dict):
            for pattern in node.get("patternProperties", {}) or {}:
                try:
                    self.patterns[pattern] = re.compile(pattern)
                except re.error:
                    pass
            for child in node.values():
                self._collect_patterns(child)
        elif isinstance(node, list):
            for child in node:
                self._collect_patterns(child)

    def _resolve(self, reference):
        if not reference.startswith("#"):
            return None
        node = self.root
        for part in reference[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node.get(part)
            if node is None:
                return None
        return node

    def _expand(self, schemas, depth=0):
        out = []
        for schema in schemas:
            if not isinstance(schema, dict) or depth > 32:
                continue
            if "$ref" in schema:
                target = self._resolve(schema["$ref"])
                if target is not None:
                    out.extend(self._expand([target], depth + 1))
                continue
            out.append(schema)
            for combinator in ("allOf", "anyOf", "oneOf"):
                out.extend(self._expand(schema.get(combinator, ()), depth + 1))
            # Conditional and negated branches say what type a value is meant to have, too.
            out.extend(self._expand([schema[k] for k in ("if", "then", "else", "not") if k in schema], depth + 1))
        return out

    @staticmethod
    def _types(schemas):
        types = set()
        for schema in schemas:
            declared = schema.get("type")
            if isinstance(declared, str):
                types.add(declared)
            elif isinstance(declared, list):
                types.update(declared)
            else:
                for value in schema.get("enum", ()):
                    types.add(_json_type(value))
                if "const" in schema:
                    types.add(_json_type(schema["const"]))
        return types

    def _scalar(self, types, value):
        if isinstance(value, str) and "string" not in types:
            if "boolean" in types and value.lower() in ("true", "false"):
                return value.lower() == "true"
            if types & {"integer", "number"} and self.INTEGER.match(value):
                return int(value)
            if "number" in types and self.DECIMAL.match(value):
                try:
                    return float(value)
                except ValueError:
                    return value
        elif isinstance(value, bool):
            if "boolean" not in types and "string" in types:
                return "true" if value else "false"
        elif isinstance(value, (int, float)):
            if not types & {"integer", "number"} and "string" in types:
                return json.dumps(value)
        return value

    def coerce(self, value, schemas=None, depth=0):
        """A coerced copy of `value` (the input is left as it is)."""
        schemas = self._expand([self.root] if schemas is None else schemas)
        if depth > 128 or not schemas:
            return copy.deepcopy(value)
        if isinstance(value, dict):
            out = {}
            for key, child in value.items():
                child_schemas = []
                for schema in schemas:
                    matched = False
                    sub = schema.get("properties", {}).get(key)
                    if sub is not None:
                        child_schemas.append(sub)
                        matched = True
                    for pattern, sub in (schema.get("patternProperties") or {}).items():
                        compiled = self.patterns.get(pattern)
                        if compiled is not None and compiled.search(key):
                            child_schemas.append(sub)
                            matched = True
                    extra = schema.get("additionalProperties")
                    if not matched and isinstance(extra, dict):
                        child_schemas.append(extra)
                out[key] = self.coerce(child, child_schemas, depth + 1)
            return out
        if isinstance(value, list):
            out = []
            for index, child in enumerate(value):
                child_schemas = []
                for schema in schemas:
                    items = schema.get("items")
                    if isinstance(items, dict):
                        child_schemas.append(items)
                    elif isinstance(items, list):
                        if index < len(items):
                            child_schemas.append(items[index])
                        elif isinstance(schema.get("additionalItems"), dict):
                            child_schemas.append(schema["additionalItems"])
                out.append(self.coerce(child, child_schemas, depth + 1))
            return out
        return self._scalar(self._types(schemas), value)


def _json_type(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


class Hook:
    """One compiled validator and coercer per type, built on first use and kept."""

    def __init__(self, schemas_dir):
        self.schemas_dir = pathlib.Path(schemas_dir)
        self.compiled = {}

    def policy(self, type_name):
        if type_name not in self.compiled:
            path = self.schemas_dir / f"{stem_for(type_name)}.json"
            if not path.is_file():
                self.compiled[type_name] = None
            else:
                schema = json.loads(path.read_text())
                self.compiled[type_name] = (Draft7Validator(schema), Coercer(schema))
        return self.compiled[type_name]

    def decide(self, type_name, properties):
        """The list of violations (empty when compliant), or None when the type has no template."""
        policy = self.policy(type_name)
        if policy is None:
            return None
        validator, coercer = policy
        instance = coercer.coerce(properties)
        return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def warm(args):
    hook = Hook(args.schemas)
    results = {}
    for schema_path in sorted(pathlib.Path(args.schemas).glob("*.json")):
        fixture = pathlib.Path(args.fixtures) / schema_path.stem / "valid-full.json"
        if not fixture.is_file():
            continue
        type_name = json.loads(schema_path.read_text()).get("typeName") or _type_from_template(schema_path.stem)
        properties = json.loads(fixture.read_text())
        try:
            violations = hook.decide(type_name, properties)
        except re.error as error:
            # Python's `re` lacks some of the ECMA-262 syntax templates use (`\p{L}`).
            results[type_name] = {"unsupported": f"Python's re cannot compile a pattern: {error}"}
            continue
        for _ in range(args.warmup):
            hook.decide(type_name, properties)
        samples = []
        clock = time.perf_counter_ns
        for _ in range(args.iterations):
            started = clock()
            hook.decide(type_name, properties)
            samples.append(clock() - started)
        samples.sort()
        results[type_name] = {
            "median_us": round(statistics.median(samples) / 1000, 1),
            "p99_us": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000, 1),
            "compliant": violations == [],
        }
        if violations:
            results[type_name]["violations"] = violations
    report = {"warm": results, "warmup": args.warmup, "iterations": args.iterations}
    text = json.dumps(report, indent=2)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")
    print(text)


def _type_from_template(stem):
    return json.loads((ROOT / "templates" / f"{stem}.json").read_text())["typeName"]


def stack(args):
    text = pathlib.Path(args.file).read_text()
    if args.file.endswith((".yaml", ".yml")):
        import yaml

        template = yaml.safe_load(text)
    else:
        template = json.loads(text)
    hook = Hook(args.schemas)
    compliant, violating, untemplated, unsupported = 0, [], [], []
    for logical_id, resource in (template.get("Resources") or {}).items():
        try:
            violations = hook.decide(resource.get("Type", ""), resource.get("Properties") or {})
        except re.error:
            # Python's `re` lacks some of the ECMA-262 syntax templates use (`\p{L}`).
            unsupported.append(logical_id)
            continue
        if violations is None:
            untemplated.append(logical_id)
        elif violations:
            violating.append((logical_id, violations))
        else:
            compliant += 1
    for logical_id, violations in violating:
        for violation in violations:
            print(f"{logical_id}: {violation}", file=sys.stderr)
    counts = {"compliant": compliant, "violating": len(violating), "untemplated": len(untemplated)}
    counts["unsupported"] = len(unsupported)
    print(json.dumps(counts))
    sys.exit(0 if not violating and not untemplated and not unsupported else 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    w = sub.add_parser("warm")
    w.add_argument("--schemas", default="target/compare/schemas")
    w.add_argument("--fixtures", default=str(ROOT / "tests/fixtures"))
    w.add_argument("--warmup", type=int, default=1000)
    w.add_argument("--iterations", type=int, default=2000)
    w.add_argument("--out")
    s = sub.add_parser("stack")
    s.add_argument("file")
    s.add_argument("--schemas", default="target/compare/schemas")
    args = parser.parse_args()
    warm(args) if args.mode == "warm" else stack(args)


if __name__ == "__main__":
    main()

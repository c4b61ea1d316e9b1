#!/usr/bin/env python3
"""Writes a CloudFormation template of N compliant resources for benches/compare.sh.

The resources are the compliant fixtures of every templated type
(tests/fixtures/<stem>/valid-full.json and valid-minimal.json), taken in turn until N
resources exist, so every peer sees the same mix of types and sizes as rcfge. Scalars stay as
the fixtures write them ("true", "365"): that is what a hook receives.

Usage: gen_template.py [OUT] [--count N] [--type TYPE]... [--minimal] [--yaml OUT_YAML]
  --type keeps only the named types (AWS::S3::Bucket: N buckets);
  OUT defaults to target/compare/stack-300.json; paths are relative to the repository root.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Names that AWS requires to be unique in an account (cfn-lint's E3019 otherwise): a per-resource
# suffix keeps the template realistic. Each suffix stays inside the name's approved pattern and
# length (compare.sh checks that rcfge finds every resource compliant).
UNIQUE_NAMES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::S3::BucketPolicy": "Bucket",
}


def templated_types():
    """(stem, type name) of every restricted template that has compliant fixtures."""
    found = []
    for path in sorted((ROOT / "templates").glob("aws-*.json")):
        type_name = json.loads(path.read_text())["typeName"]
        if (ROOT / "tests/fixtures" / path.stem / "valid-full.json").is_file():
            found.append((path.stem, type_name))
    return found


def logical_prefix(type_name):
    # AWS::S3::BucketPolicy -> S3BucketPolicy: unique per type and alphanumeric, as CloudFormation requires.
    _, service, resource = type_name.split("::")
    return service + resource


def with_unique_name(type_name, properties, index):
    key = UNIQUE_NAMES.get(type_name)
    name = properties.get(key) if key else None
    if not isinstance(name, str):
        return properties
    stem, dot, suffix = name.partition(".")
    unique = f"{stem}-{index:03d}{dot}{suffix}"
    # Everywhere in the resource, so that e.g. a bucket policy's ARNs name its own bucket.
    return json.loads(json.dumps(properties).replace(json.dumps(name)[1:-1], json.dumps(unique)[1:-1]))


def build(count, only=(), variants=("valid-full.json", "valid-minimal.json")):
    types = [(stem, name) for stem, name in templated_types() if not only or name in only]
    if not types:
        sys.exit("gen_template.py: no templates with fixtures found" + (f" for {', '.join(only)}" if only else ""))
    fixtures = {}
    for stem, type_name in types:
        for variant in variants:
            path = ROOT / "tests/fixtures" / stem / variant
            if path.is_file():
                fixtures.setdefault(type_name, []).append(json.loads(path.read_text()))
    resources = {}
    for index in range(count):
        _, type_name = types[index % len(types)]
        variants = fixtures[type_name]
        # Full and minimal alternate per round through the types.
        properties = variants[(index // len(types)) % len(variants)]
        resources[f"{logical_prefix(type_name)}{index + 1:03d}"] = {
            "Type": type_name,
            "Properties": with_unique_name(type_name, properties, index + 1),
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{count} compliant resources over {len(types)} restricted types (benches/compare.sh)",
        "Resources": resources,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="target/compare/stack-300.json")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--type", action="append", default=[], metavar="TYPE", help="only this type (repeatable)")
    parser.add_argument(
        "--minimal", action="store_true", help="only the valid-minimal.json fixtures (full and minimal alternate otherwise)"
    )
    parser.add_argument("--yaml", metavar="OUT_YAML", help="also write the template as YAML (needs PyYAML)")
    args = parser.parse_args()

    template = build(args.count, args.type, ("valid-minimal.json",) if args.minimal else ("valid-full.json", "valid-minimal.json"))
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(template, indent=2) + "\n")
    if args.yaml:
        import yaml

        class NoAliases(yaml.SafeDumper):
            # Resources share fixture objects; anchors and aliases for them are valid YAML that
            # CloudFormation and cfn-guard do not accept.
            def ignore_aliases(self, data):
                return True

        def quote_yaml11_booleans(dumper, text):
            # PyYAML writes `N` and `y` plain, which YAML 1.1 (and so CloudFormation) may read as
            # booleans: quoted, they stay the strings the JSON template has.
            style = '"' if text in ("y", "Y", "n", "N") else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)

        NoAliases.add_representer(str, quote_yaml11_booleans)

        # Block style and no key sorting: what a person writes, in the order of the JSON.
        yaml_out = pathlib.Path(args.yaml)
        yaml_out.parent.mkdir(parents=True, exist_ok=True)
        yaml_out.write_text(
            yaml.dump(template, Dumper=NoAliases, sort_keys=False, default_flow_style=False, width=120)
        )
    print(f"{out}: {len(template['Resources'])} resources")


if __name__ == "__main__":
    main()

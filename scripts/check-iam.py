#!/usr/bin/env python3
"""Checks each function's IAM policy in template.yaml against the Service Authorization
Reference's resource types for each action (the copy in the PyPI package `parliament`,
`iam_definition.json`): a statement that names resources must name ones the action is
authorised against, or AWS refuses the call although the policy seems to allow it.

For every Allow statement of every AWS::Serverless::Function's `Policies` (and of
AWS::IAM::Role policies), and every action and resource in it:
- the action must exist;
- a resource other than "*" must match the ARN format of one of the action's resource
  types; an action with no resource types takes only "*";
- an action whose resource types are all optional (none marked required) is authorised
  against "*" when a request names none of them: a statement scoping it to a resource
  may refuse such a request, so it must use "*" (mediaconvert:CreateJob with the
  Default queue, named by no request, is one).

Usage: scripts/check-iam.py [template.yaml]. Prints each finding; exits 1 if any.
"""
import importlib.util
import json
import re
import sys
from pathlib import Path

from cfnlint.decode import decode


def iam_definition():
    # Found, not imported: only the data file is wanted, and the package is installed
    # without its dependencies (see the Makefile's python-packages).
    spec = importlib.util.find_spec("parliament")
    if spec is None or spec.origin is None:
        sys.exit("check-iam: the PyPI package parliament is not installed (make python-packages)")
    return json.loads(Path(spec.origin).with_name("iam_definition.json").read_text())


def arn_pattern(fmt):
    """The regular expression of an ARN format such as
    arn:${Partition}:s3:::${BucketName}/${ObjectName}."""
    out, i = "", 0
    for m in re.finditer(r"\$\{[^}]+\}", fmt):
        out += re.escape(fmt[i : m.start()])
        # A variable stands for anything but the separators around it: the last one
        # (an object key, a resource path) may hold slashes.
        out += ".*" if m.end() == len(fmt) else "[^:/]*"
        i = m.end()
    return re.compile("^" + out + re.escape(fmt[i:]) + "$")


# What !GetAtt X.Arn and !Ref X give, by the referenced resource's type.
ARN_OF = {
    "AWS::SQS::Queue": "arn:aws:sqs:R:A:{}",
    "AWS::SNS::Topic": "arn:aws:sns:R:A:{}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:R:A:table/{}",
    "AWS::IAM::Role": "arn:aws:iam::A:role/{}",
    "AWS::S3::Bucket": "arn:aws:s3:::{}",
    "AWS::Events::Rule": "arn:aws:events:R:A:rule/{}",
}


def resolve(value, resources):
    """A resource of a statement as a concrete ARN, variables filled with stand-ins;
    None when it cannot be known (a parameter)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{[^}]+\}", "x", text)
        if fn in ("Fn::GetAtt", "Ref"):
            name = arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
            kind = resources.get(name, {}).get("Type")
            if kind in ARN_OF:
                return ARN_OF[kind].format(name.lower())
            return None
        if fn == "Fn::If":
            return None
    return None


def statements(template):
    resources = template.get("Resources", {})
    for name, res in resources.items():
        props = res.get("Properties", {})
        policies = props.get("Policies", [])
        if not isinstance(policies, list):
            policies = [policies]
        for policy in policies:
            doc = policy.get("PolicyDocument", policy) if isinstance(policy, dict) else None
            if not isinstance(doc, dict):
                continue
            body = doc.get("Statement", [])
            for st in body if isinstance(body, list) else [body]:
                if isinstance(st, dict) and st.get("Effect") == "Allow":
                    yield name, st, resources


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "template.yaml"
    template, errors = decode(path)
    if errors:
        print(errors)
        return 1
    services = {s["prefix"]: s for s in iam_definition()}
    findings = []
    checked = 0
    for owner, st, resources in statements(template):
        actions = st.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        targets = st.get("Resource", [])
        targets = targets if isinstance(targets, list) else [targets]
        for action in actions:
            prefix, _, verb = action.partition(":")
            service = services.get(prefix)
            privilege = next(
                (p for p in (service or {}).get("privileges", []) if p["privilege"] == verb),
                None,
            )
            if privilege is None:
                findings.append(f"{owner}: {action} is not an action of the Service Authorization Reference")
                continue
            types = [t["resource_type"] for t in privilege["resource_types"] if t["resource_type"]]
            formats = {
                r["resource"]: r["arn"] for r in service["resources"]
            }
            required = [t for t in types if t.endswith("*")]
            for target in targets:
                arn = resolve(target, resources)
                checked += 1
                if arn is None or arn == "*":
                    continue
                if not types:
                    findings.append(f"{owner}: {action} takes no resource-level permissions; its Resource must be \"*\", not {arn}")
                    continue
                matched = [
                    t for t in types
                    if t.rstrip("*") in formats and arn_pattern(formats[t.rstrip("*")]).match(arn)
                ]
                if not matched:
                    findings.append(f"{owner}: {arn} is none of {action}'s resource types ({', '.join(types)})")
                elif not required:
                    findings.append(
                        f"{owner}: {action} requires none of its resource types ({', '.join(types)}), so a request that "
                        f"names none is authorised against \"*\" only; scoping it to {arn} can refuse it"
                    )
    for f in findings:
        print(f)
    print(f"check-iam: {checked} action-resource pairs checked, {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())

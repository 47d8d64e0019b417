#!/usr/bin/env python3
"""Validates a MediaConvert CreateJob request body against the service's API model.

Reads the JSON body the SDK sent (wire names: `settings`, `outputGroups`, ...) on
stdin, maps it to the model's member names (`Settings`, `OutputGroups`, ...) by the
model's own `locationName`s, and runs botocore's parameter validator on it, plus the
numeric ranges and string patterns the model declares (which the validator leaves
to the service). Prints the problems and exits 1 if there are any.

Used by crates/aws/tests; needs botocore (PyPI, installed with moto).
"""
import json
import re
import sys

import botocore.session
from botocore.validate import ParamValidator


def to_members(shape, value, path, problems):
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return value
        by_wire = {
            m.serialization.get("name", name): (name, m) for name, m in shape.members.items()
        }
        out = {}
        for wire, v in value.items():
            if wire not in by_wire:
                problems.append(f"{path}: unknown field '{wire}'")
                continue
            name, member = by_wire[wire]
            out[name] = to_members(member, v, f"{path}.{name}", problems)
        return out
    if kind == "list" and isinstance(value, list):
        return [to_members(shape.member, v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {k: to_members(shape.value, v, f"{path}.{k}", problems) for k, v in value.items()}
    meta = shape.metadata
    if kind in ("integer", "long", "double") and isinstance(value, (int, float)):
        if "min" in meta and value < meta["min"]:
            problems.append(f"{path}: {value} is below the minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} is above the maximum {meta['max']}")
    if kind == "string" and isinstance(value, str):
        if "pattern" in meta and not re.search(meta["pattern"], value):
            problems.append(f"{path}: '{value}' does not match {meta['pattern']}")
        if getattr(shape, "enum", None) and value not in shape.enum:
            problems.append(f"{path}: '{value}' is not one of {shape.enum}")
    return value


def main():
    body = json.load(sys.stdin)
    model = botocore.session.get_session().get_service_model("mediaconvert")
    op = model.operation_model("CreateJob")
    problems = []
    params = to_members(op.input_shape, body, "CreateJob", problems)
    report = ParamValidator().validate(params, op.input_shape)
    if report.has_errors():
        problems.append(report.generate_report())
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print("valid CreateJob request")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Evaluates the AWS API calls each function made in a test against that function's
own policy in template.yaml, as IAM would: moto does not enforce IAM on most
services (it authorises non-S3 requests against "*" and knows few condition keys),
so the chain test records every request and this script decides each one.

Input:
- template.yaml;
- a world file (JSON) saying what the template's names are in the test's world:
  {"parameters": {"NamePrefix": "vidpipe", "AWS::AccountId": "123456789012",
   "AWS::Region": "us-east-1", "AWS::Partition": "aws"},
   "resources": {"TranscodeQueue": "arn:aws:sqs:…", "VideoTable": "arn:…", …},
   "renames": {"vidpipe-media-123456789012-us-east-1": "vidpipe-media"}};
- the calls (JSON lines): {"function": "transcode", "service": "sqs" (or absent, then
  read from the SigV4 credential scope), "method", "url", "headers", "body"
  (base64 when "body_encoded"), "missing_key": true for a GET or HEAD of an object
  that did not exist}, as moto's recorder writes them and the tests' HTTP stubs keep
  them.

Each call becomes the IAM actions it needs, their resource ARNs and the condition
keys the request carries (Service Authorization Reference; S3's ListObjectsV2 is
s3:ListBucket on the bucket with s3:prefix; CopyObject is s3:GetObject on the source
and s3:PutObject on the target; a read of a missing key also needs s3:ListBucket on
the bucket, without which S3 answers 403, not 404; MediaConvert's CreateJob with a Role is also
iam:PassRole on it, with iam:PassedToService). A call is allowed when an Allow
statement of the function's policies matches its action, resource and conditions
(StringEquals, StringLike, ArnEquals, ArnLike; a condition on a key the request does
not carry does not match, as IAM evaluates it).

Usage: scripts/check-calls.py template.yaml world.json calls.jsonl
Prints each call the policy refuses; exits 1 if any, 2 on unreadable input.
"""
import base64
import fnmatch
import json
import re
import sys
from collections import namedtuple
from urllib.parse import parse_qs, unquote, urlparse

from cfnlint.decode import decode


def function_id(name):
    """`transcribe-start` → `TranscribeStartFunction`."""
    return "".join(p.capitalize() for p in name.split("-")) + "Function"


class Resolver:
    def __init__(self, world):
        self.params = world["parameters"]
        self.resources = world["resources"]
        self.renames = world.get("renames", {})

    def sub(self, text):
        def one(m):
            name = m.group(1)
            if name in self.params:
                return self.params[name]
            base = name.split(".")[0]
            if base in self.resources:
                return self.resources[base]
            raise KeyError(f"${{{name}}} is not in the world file")

        out = re.sub(r"\$\{([^}]+)\}", one, text)
        for old, new in self.renames.items():
            out = out.replace(old, new)
        return out

    def value(self, v):
        """A statement's value with its intrinsic functions resolved; Fn::If takes
        its first branch (the test world has what a condition turns on)."""
        if isinstance(v, str):
            return self.sub(v) if "${" in v else v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict) and len(v) == 1:
            (fn, arg), = v.items()
            if fn == "Fn::Sub":
                return self.sub(arg if isinstance(arg, str) else arg[0])
            if fn == "Fn::GetAtt":
                name = arg[0] if isinstance(arg, list) else arg.split(".")[0]
                return self.resources[name]
            if fn == "Ref":
                return self.params.get(arg) or self.resources[arg]
            if fn == "Fn::If":
                return self.value(arg[1])
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        return v


def statements(template, function, resolver):
    resource = template["Resources"].get(function_id(function))
    if resource is None:
        sys.exit(f"check-calls: no {function_id(function)} in the template")
    out = []
    for policy in resource["Properties"].get("Policies", []):
        policy = resolver.value(policy)
        if not isinstance(policy, dict) or "Statement" not in policy:
            continue
        for s in policy["Statement"]:
            if isinstance(s, dict) and s.get("Effect") == "Allow":
                out.append(s)
    return out


def as_list(v):
    return v if isinstance(v, list) else [v]


def matches(pattern, value):
    return fnmatch.fnmatchcase(value, pattern)


def condition_holds(condition, context):
    for op, pairs in (condition or {}).items():
        for key, wanted in pairs.items():
            have = context.get(key)
            if have is None:
                return False
            wanted = as_list(wanted)
            if op in ("StringEquals", "ArnEquals"):
                ok = have in wanted
            elif op in ("StringLike", "ArnLike"):
                ok = any(matches(w, have) for w in wanted)
            else:
                raise ValueError(f"condition operator {op} is not evaluated here")
            if not ok:
                return False
    return True


def allowed(stmts, action, resource, context):
    for s in stmts:
        if not any(matches(a.lower(), action.lower()) for a in as_list(s["Action"])):
            continue
        if not any(matches(r, resource) for r in as_list(s.get("Resource", "*"))):
            continue
        if condition_holds(s.get("Condition"), context):
            return True
    return False


def body_of(call):
    body = call.get("body") or ""
    if call.get("body_encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else body


def header(call, name):
    for k, v in (call.get("headers") or {}).items():
        if k.lower() == name.lower():
            return v
    return None


def service_of(call):
    if call.get("service"):
        return call["service"]
    auth = header(call, "Authorization") or ""
    m = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/aws4_request", auth)
    return m.group(1) if m else None


# What a call needs: an action on a resource with the request's condition keys, and
# why, where the action is not the call's own.
Need = namedtuple("Need", "action resource context why", defaults=("",))


def needs(call, world):
    """The Needs of the call (tuples of action, resource, context and, optionally, why)."""
    params = world["parameters"]
    region, account = params["AWS::Region"], params["AWS::AccountId"]
    service = service_of(call)
    method = call["method"].upper()
    url = urlparse(call["url"])
    query = parse_qs(url.query, keep_blank_values=True)
    body = body_of(call)
    target = header(call, "X-Amz-Target") or ""
    operation = target.split(".")[-1]

    def json_body():
        return json.loads(body or b"{}")

    if service == "s3":
        parts = url.path.lstrip("/").split("/", 1)
        bucket = parts[0]
        key = unquote(parts[1]) if len(parts) > 1 and parts[1] else None
        bucket_arn = f"arn:aws:s3:::{bucket}"
        if key is None:
            if method == "GET":
                prefix = query.get("prefix", [""])[0]
                return [("s3:ListBucket", bucket_arn, {"s3:prefix": prefix})]
            return [(f"s3:{method}Bucket", bucket_arn, {})]
        obj = f"{bucket_arn}/{key}"
        if method in ("GET", "HEAD") and call.get("missing_key"):
            # S3 answers a missing key with 404 only to a caller allowed s3:ListBucket
            # on the bucket (a request for an object carries no s3:prefix), and with
            # 403 to any other (S3 API Reference, GetObject and HeadObject).
            return [("s3:GetObject", obj, {}),
                    ("s3:ListBucket", bucket_arn, {}, " (a read of a missing key)")]
        if method in ("GET", "HEAD"):
            return [("s3:GetObject", obj, {})]
        if method == "DELETE":
            action = "s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject"
            return [(action, obj, {})]
        source = header(call, "x-amz-copy-source")
        out = [("s3:PutObject", obj, {})]
        if source:
            out.append(("s3:GetObject", "arn:aws:s3:::" + unquote(source).lstrip("/").split("?")[0], {}))
        return out
    if service == "sqs":
        queue = json_body()["QueueUrl"].rstrip("/").split("/")[-1]
        return [(f"sqs:{operation}", f"arn:aws:sqs:{region}:{account}:{queue}", {})]
    if service == "dynamodb":
        table = json_body()["TableName"]
        return [(f"dynamodb:{operation}", f"arn:aws:dynamodb:{region}:{account}:table/{table}", {})]
    if service == "sns":
        form = parse_qs(body.decode())
        action = form["Action"][0]
        return [(f"sns:{action}", form.get("TopicArn", ["*"])[0], {})]
    if service == "ses":
        if method == "POST" and url.path.endswith("/outbound-emails"):
            sender = json_body().get("FromEmailAddress", "")
            address = re.sub(r"^.*<([^>]+)>$", r"\1", sender)
            return [("ses:SendEmail", f"arn:aws:ses:{region}:{account}:identity/{address}", {})]
        return [(f"ses:{method} {url.path}", "*", {})]
    if service == "transcribe":
        b = json_body()
        if operation == "StartTranscriptionJob":
            return [("transcribe:StartTranscriptionJob", "*",
                     {"transcribe:OutputBucketName": b.get("OutputBucketName", "")})]
        name = b.get("TranscriptionJobName", "")
        return [(f"transcribe:{operation}",
                 f"arn:aws:transcribe:{region}:{account}:transcription-job/{name}", {})]
    if service == "rekognition":
        return [(f"rekognition:{operation}", "*", {})]
    if service == "mediaconvert":
        if method == "POST" and url.path.endswith("/jobs"):
            out = [("mediaconvert:CreateJob", "*", {})]
            role = json_body().get("role")
            if role:
                out.append(("iam:PassRole", role,
                            {"iam:PassedToService": "mediaconvert.amazonaws.com"}))
            return out
        m = re.match(r".*/jobs/([^/]+)$", url.path)
        if method == "DELETE" and m:
            return [("mediaconvert:CancelJob",
                     f"arn:aws:mediaconvert:{region}:{account}:jobs/{m.group(1)}", {})]
    raise ValueError(f"no IAM mapping for {service} {method} {call['url']} {target}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    template, problems = decode(sys.argv[1])
    if template is None:
        print(problems)
        return 2
    world = json.load(open(sys.argv[2]))
    resolver = Resolver(world)
    calls = [json.loads(line) for line in open(sys.argv[3]) if line.strip()]
    by_function = {}
    refused = 0
    checked = 0
    for call in calls:
        function = call["function"]
        if function not in by_function:
            by_function[function] = statements(template, function, resolver)
        for action, resource, context, why in (Need(*n) for n in needs(call, world)):
            checked += 1
            if not allowed(by_function[function], action, resource, context):
                refused += 1
                ctx = "".join(f" {k}={v}" for k, v in context.items())
                print(f"{function}: {action}{why} on {resource}{ctx} is not allowed by its policy "
                      f"({call['method']} {call['url']})")
    print(f"check-calls: {checked} authorisations of {len(calls)} calls by "
          f"{len(by_function)} functions checked, {refused} refused")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())

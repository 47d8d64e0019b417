#!/usr/bin/env python3
"""Benchmarks the seven SQS- and schedule-driven Lambda functions' release binaries (part of `make bench`).

For each function: the binary's size; the time from process start to its first poll
of the Lambda runtime API (GET /2018-06-01/runtime/invocation/next: setup done, ready
for an event); and its peak resident memory (VmHWM) once it has handled its sample
event from events/ and posted the response.

The runtime API is a stand-in served here on loopback (the same three calls
`cargo lambda watch` serves: next, response, error), so that the first poll can be
timed to the microsecond; the AWS APIs are a moto server (PyPI `moto[server]`), set up
as the template sets up the account: bucket, table, queues, topic. Ingest handles the
real upload event with an MP4 made by ffmpeg at its key; the other sample events name
a video moto has no record of, so those functions read, find nothing and answer, which
is the path a stray or replayed event takes.

Usage: scripts/bench-functions.py TARGET_DIR   (for example target/release)
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUNCTIONS = [
    ("ingest", "sqs-s3-put-talk.json"),
    ("transcode", "sqs-transcode-requested.json"),
    ("transcribe-start", "sqs-s3-audio-created.json"),
    ("transcribe-store", "sqs-s3-transcript-created.json"),
    ("rekognition", "sqs-cover-requested.json"),
    ("publish", "sqs-part-recorded.json"),
    ("reconcile", "scheduler-reconcile.json"),
]
# Aims from the issue, for the functions that don't touch media.
READY_AIM_MS = 30.0
MEMORY_AIM_MB = 40.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


class RuntimeApi:
    """One invocation: hands out `event` on the first poll, keeps the answer, and holds
    every later poll open (the process is stopped by then)."""

    def __init__(self, event_bytes):
        self.event = event_bytes
        self.first_poll = None
        self.answer = None
        self.answered = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                if api.first_poll is None:
                    api.first_poll = time.perf_counter()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(api.event)))
                    self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
                    self.send_header(
                        "Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000)
                    )
                    self.send_header(
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:bench",
                    )
                    self.end_headers()
                    self.wfile.write(api.event)
                else:
                    time.sleep(30)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                api.answer = (self.path, self.rfile.read(length))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                api.answered.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def set_up_account(endpoint):
    kw = dict(
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3 = boto3.client("s3", **kw)
    s3.create_bucket(Bucket="vidpipe-media")
    dynamo = boto3.client("dynamodb", **kw)
    dynamo.create_table(
        TableName="vidpipe-videos",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    sqs = boto3.client("sqs", **kw)
    queues = {q: sqs.create_queue(QueueName=f"vidpipe-{q}")["QueueUrl"] for q in ("transcode", "publish", "rekognition")}
    topic = boto3.client("sns", **kw).create_topic(Name="vidpipe-notices")["TopicArn"]
    with tempfile.TemporaryDirectory() as tmp:
        mp4 = os.path.join(tmp, "talk.mp4")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=10",
             "-f", "lavfi", "-i", "sine=frequency=440:duration=10", "-c:v", "libx264", "-preset", "ultrafast",
             "-c:a", "aac", "-movflags", "+faststart", mp4],
            check=True,
        )
        key = "uploads/Right metrics and wrong metrics: Is there such a thing4?.mp4"
        s3.upload_file(mp4, "vidpipe-media", key)
    return {
        "VIDPIPE_BUCKET": "vidpipe-media",
        "VIDPIPE_TABLE": "vidpipe-videos",
        "VIDPIPE_TOPIC_ARN": topic,
        "VIDPIPE_TRANSCODE_QUEUE_URL": queues["transcode"],
        "VIDPIPE_PUBLISH_QUEUE_URL": queues["publish"],
        "VIDPIPE_COVER_QUEUE_URL": queues["rekognition"],
        "VIDPIPE_MEDIACONVERT_ROLE_ARN": "arn:aws:iam::123456789012:role/vidpipe-mediaconvert",
        "VIDPIPE_S3_PATH_STYLE": "true",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }


def run_one(binary, event_path, env):
    event = json.loads(open(event_path).read())
    api = RuntimeApi(json.dumps(event).encode())
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.port}",
        "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(binary),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "RUST_LOG": "warn",
        **env,
    }
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not api.answered.wait(60):
            raise SystemExit(f"{binary}: no answer in 60 s")
        time.sleep(0.05)
        rss_kb = peak_rss_kb(proc.pid)
    finally:
        proc.kill()
        proc.wait()
        api.server.shutdown()
    ready_ms = (api.first_poll - start) * 1000.0
    path, body = api.answer
    ok = path.endswith("/response")
    return ready_ms, rss_kb / 1024.0, ok, body.decode(errors="replace")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    target = sys.argv[1]
    port = free_port()
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        env = set_up_account(f"http://127.0.0.1:{port}")
        print(f"{'function':<18} {'binary MB':>9} {'ready ms':>9} {'peak MB':>8}  answer")
        for name, event_file in FUNCTIONS:
            binary = os.path.join(target, name)
            size_mb = os.path.getsize(binary) / 1e6
            runs = [run_one(binary, os.path.join(REPO, "events", event_file), env) for _ in range(3)]
            ready_ms = sorted(r[0] for r in runs)[1]
            peak_mb = max(r[1] for r in runs)
            ok, body = runs[0][2], runs[0][3]
            print(f"{name:<18} {size_mb:>9.1f} {ready_ms:>9.1f} {peak_mb:>8.1f}  "
                  f"{'response' if ok else 'error'} {body[:60]}")
        print(f"(ready: median of 3 starts; peak: the largest VmHWM of 3; aims {READY_AIM_MS:.0f} ms "
              f"and {MEMORY_AIM_MB:.0f} MB for the functions that don't touch media)")
    finally:
        moto.kill()
        moto.wait()


if __name__ == "__main__":
    main()

//! One function under the Lambda runtime API, as `cargo lambda watch` serves it
//! locally, invoked with an events/ file by `cargo lambda invoke` (cargo-lambda from
//! PyPI), against moto. The event is a conference team's real S3 upload
//! (`events/s3-put-talk.json`, its key URL-encoded with `+` for spaces), under
//! `uploads/` and wrapped in SQS as the ingest queue delivers it.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use vidpipe_domain::events::ObjectCreated;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::stages::{video_id_for, IdScheme};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// `cargo lambda watch`, stopped (with the function it runs) when dropped.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        // The watcher runs the function as its child: end the whole process group.
        let _ = Command::new("kill")
            .args(["--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn invoke(port: u16, data_file: &str) -> serde_json::Value {
    let out = Command::new("cargo")
        .current_dir(REPO)
        .args([
            "lambda",
            "invoke",
            "ingest",
            "--invoke-address",
            "127.0.0.1",
        ])
        .arg("--invoke-port")
        .arg(port.to_string())
        .args(["--data-file", data_file, "--output-format", "json"])
        .output()
        .expect("cargo lambda on PATH (make python-packages installs cargo-lambda)");
    assert!(
        out.status.success(),
        "cargo lambda invoke: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "invoke answered no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_under_cargo_lambda_watch_takes_the_real_upload_event_once() {
    let w = World::new(&[]).await;
    let key = "uploads/Right metrics and wrong metrics: Is there such a thing4?.mp4";
    w.put(key, make_mp4(4, true)).await;

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut watch = Command::new("cargo");
    watch
        .current_dir(REPO)
        .args(["lambda", "watch", "--quiet", "--ignore-changes"])
        .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
        .arg(port.to_string())
        .env("AWS_ENDPOINT_URL", &w.moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in &w.env {
        watch.env(k, v);
    }
    // Its own process group, so that drop ends the function too.
    std::os::unix::process::CommandExt::process_group(&mut watch, 0);
    let _watch = Watch(watch.spawn().expect("cargo lambda watch"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch did not listen"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let event = format!("{REPO}/events/sqs-s3-put-talk.json");
    let answer = invoke(port, &event);
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));

    // The record the event's upload identity names, with the title from the key.
    let text = std::fs::read_to_string(&event).unwrap();
    let outer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let body: serde_json::Value =
        serde_json::from_str(outer["Records"][0]["body"].as_str().unwrap()).unwrap();
    let object = &body["Records"][0]["s3"];
    let id = video_id_for(
        IdScheme::Object,
        &ObjectCreated {
            bucket: object["bucket"]["name"].as_str().unwrap().into(),
            key: key.into(),
            size_bytes: 0,
            etag: object["object"]["eTag"].as_str().map(String::from),
            version_id: object["object"]["versionId"].as_str().map(String::from),
        },
    );
    let record = w
        .function
        .records
        .get(&id)
        .await
        .unwrap()
        .expect("ingest recorded the video");
    assert_eq!(
        record.title(),
        "Right metrics and wrong metrics: Is there such a thing4?"
    );
    assert_eq!(record.source_key, key);
    assert!(record.plan.is_some());

    // The same event again: the record stays as it was. (Ingest asks for the
    // transcode again while it has not started, in case a delivery died before
    // asking; the transcode stage takes a repeated request as done.)
    let answer = invoke(port, &event);
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    let again = w.function.records.get(&id).await.unwrap().unwrap();
    assert_eq!(again.version, record.version);
    let requests = w.drain("transcode").await;
    assert!(!requests.records.is_empty());
    for m in requests.records {
        let body: serde_json::Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"type": "transcode-requested", "video_id": id.as_str()})
        );
    }
}

//! `vidpipe catalog set s3://…` on moto's S3 (PyPI `moto[server]`): writers that run
//! at once each keep the others' changes, because every write is conditional on the
//! ETag it read (If-Match) and redone after a 412.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server on PATH (make python-packages installs moto[server])");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Runs a boto3 snippet against this moto (`s3` is the client); its stdout.
    fn boto3(&self, code: &str) -> String {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n{code}",
            self.endpoint
        );
        let o = Command::new("python3")
            .arg("-c")
            .arg(script)
            .output()
            .expect("python3");
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn concurrent_writers_on_s3_each_keep_the_others_changes() {
    let moto = Moto::start();
    let ids: Vec<String> = (0..6).map(|i| format!("dataset-{i}")).collect();
    let entries: Vec<String> = ids
        .iter()
        .map(|id| format!("{{\"id\": \"{id}\", \"title\": \"{id}\"}}"))
        .collect();
    let doc = format!(
        "{{\"datasets\": [{}], \"owner\": \"science team\"}}",
        entries.join(", ")
    );
    moto.boto3(&format!(
        "s3.create_bucket(Bucket='catalogs')\ns3.put_object(Bucket='catalogs', Key='sos/catalog.json', Body={doc:?})"
    ));
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<Child> = ids
        .iter()
        .map(|id| {
            Command::new(env!("CARGO_BIN_EXE_vidpipe"))
                .args(["--out", dir.path().to_str().unwrap()])
                .args([
                    "catalog",
                    "set",
                    "s3://catalogs/sos/catalog.json",
                    "--id",
                    id,
                ])
                .args([
                    "--end",
                    "2024-02-26T19:00:00Z",
                    "--link",
                    &format!("https://vimeo.com/{id}"),
                ])
                .env("AWS_ENDPOINT_URL", &moto.endpoint)
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_REGION", "us-east-1")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut retries = 0;
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        retries += text(&o.stderr)
            .matches("another writer changed the catalog first")
            .count();
    }
    let after = moto.boto3(
        "print(s3.get_object(Bucket='catalogs', Key='sos/catalog.json')['Body'].read().decode())",
    );
    let v: serde_json::Value = serde_json::from_str(&after).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let entry = &v["datasets"][i];
        assert_eq!(
            entry["dataLink"],
            format!("https://vimeo.com/{id}"),
            "{id} lost: {after}"
        );
        assert_eq!(entry["endTime"], "2024-02-26T19:00:00Z");
        assert_eq!(entry["title"], id.as_str());
    }
    assert_eq!(v["owner"], "science team");
    eprintln!("{retries} writes were redone after another writer came first");
}

#[test]
fn a_missing_catalog_object_and_a_bad_location_are_clear_errors() {
    let moto = Moto::start();
    moto.boto3("s3.create_bucket(Bucket='catalogs')");
    let dir = tempfile::tempdir().unwrap();
    let run = |location: &str| {
        Command::new(env!("CARGO_BIN_EXE_vidpipe"))
            .args([
                "--out",
                dir.path().to_str().unwrap(),
                "catalog",
                "set",
                location,
                "--id",
                "x",
                "--link",
                "https://x",
            ])
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let o = run("s3://catalogs/none.json");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("s3://catalogs/none.json"),
        "{}",
        text(&o.stderr)
    );
    let o = run("s3://catalogs");
    assert!(
        text(&o.stderr).contains("an S3 catalog is s3://bucket/key"),
        "{}",
        text(&o.stderr)
    );
}

//! `vidpipe serve` started for a test, and a local HTTP server for links.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `vidpipe serve`; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    /// Starts `vidpipe serve --listen 127.0.0.1:0` on `out` with `extra` options and
    /// waits for the address it prints.
    pub fn start(out: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vidpipe"))
            .arg("--out")
            .arg(out)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vidpipe serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().expect("serve prints its address").unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .trim_end_matches('/')
            .to_string();
        // Keep reading stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                eprintln!("serve: {l}")
            }
        });
        Server { child, url }
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        reqwest::blocking::get(format!("{}{path}", self.url)).expect("GET answers")
    }

    pub fn json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().expect("JSON")
    }

    /// Opens a server-sent event stream (no read timeout).
    pub fn events(&self, path: &str) -> reqwest::blocking::Response {
        reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .unwrap()
            .get(format!("{}{path}", self.url))
            .send()
            .expect("the stream opens")
    }

    /// Polls `GET /api/videos/{id}` until its status is published or failed.
    pub fn wait_settled(&self, id: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let r = self.get(&format!("/api/videos/{id}"));
            if r.status().is_success() {
                let v: Value = r.json().unwrap();
                if matches!(v["status"].as_str(), Some("published" | "failed")) {
                    return v;
                }
            }
            assert!(
                start.elapsed() < limit,
                "video {id} not settled after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Uploads `file` (and a sidecar) as the page does: multipart to `/api/videos`.
    pub fn upload(&self, file: &Path, sidecar: Option<&str>) -> reqwest::blocking::Response {
        let mut form = reqwest::blocking::multipart::Form::new()
            .file("file", file)
            .unwrap();
        if let Some(s) = sidecar {
            form = form.text("sidecar", s.to_string());
        }
        reqwest::blocking::Client::new()
            .post(format!("{}/api/videos", self.url))
            .multipart(form)
            .send()
            .expect("POST answers")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `python3 -m http.server` on a free port serving `dir`; killed when dropped.
pub struct StaticServer {
    child: Child,
    pub url: String,
}

impl StaticServer {
    pub fn start(dir: &Path) -> StaticServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m http.server starts");
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "http.server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        StaticServer { child, url }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

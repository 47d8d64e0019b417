//! Stand-ins of YouTube, Google's token endpoint, Vimeo (uploads on a real tus
//! server) and Facebook (`tests/tus/platforms.mjs`), and running `vidpipe` against
//! them with a credentials file and a controllable clock.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use sha2::Digest;

use vidpipe_platforms::stand_in::NodeServer;

use super::SmtpSink;

/// 2026-12-03T02:30:00Z: 18:30 the day before in Pacific time.
pub const NOW: i64 = 1_796_265_000;
/// YouTube's quota comes back at midnight Pacific: 08:00 UTC.
pub const PACIFIC_MIDNIGHT: i64 = NOW + 5 * 3600 + 30 * 60;

pub struct Platforms(NodeServer);

impl std::ops::Deref for Platforms {
    type Target = NodeServer;
    fn deref(&self) -> &NodeServer {
        &self.0
    }
}

impl Platforms {
    pub fn start(dir: &Path) -> Platforms {
        Platforms(NodeServer::start("platforms.mjs", dir))
    }

    pub fn state(&self) -> Value {
        reqwest::blocking::get(format!("{}/_state", self.url))
            .unwrap()
            .json()
            .unwrap()
    }

    /// The next chunk `platform` takes is kept in half and the connection dropped.
    pub fn drop_next_chunk(&self, platform: &str) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/_drop", self.url))
            .json(&json!({"platform": platform}))
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }

    pub fn fail(&self, failure: Value) {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/_fail", self.url))
            .json(&failure)
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }
}

pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/platforms")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The credentials file `vidpipe auth` would write, owner-only.
pub fn credentials(dir: &Path, with_vimeo: bool) -> PathBuf {
    let mut creds = json!({
        "youtube": {"client_id": "c", "client_secret": "s", "refresh_token": "r"},
        "facebook": {"app_id": "1234", "page_id": "100064123",
                      "user_token": "fb-user-token", "page_token": "fb-page-token"}
    });
    if with_vimeo {
        creds["vimeo"] = json!({"access_token": "vimeo-test-token"});
    }
    let path = dir.join("credentials.json");
    std::fs::write(&path, creds.to_string()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

pub fn run(
    out: &Path,
    platforms: &Platforms,
    creds: &Path,
    now: i64,
    smtp: Option<&SmtpSink>,
    args: &[&str],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vidpipe"));
    cmd.arg("--out")
        .arg(out)
        .args(args)
        .env("RUST_LOG", "warn")
        .env("XDG_CONFIG_HOME", out.join("config"))
        .env("VIDPIPE_CREDENTIALS", creds)
        .env("VIDPIPE_YOUTUBE_API", format!("{}/youtube", platforms.url))
        .env(
            "VIDPIPE_GOOGLE_TOKEN_URL",
            format!("{}/google/token", platforms.url),
        )
        .env("VIDPIPE_VIMEO_API", format!("{}/vimeo", platforms.url))
        .env(
            "VIDPIPE_FACEBOOK_API",
            format!("{}/facebook", platforms.url),
        )
        .env("VIDPIPE_UPLOAD_CHUNK", "262144")
        .env("VIDPIPE_NOW", now.to_string());
    if let Some(smtp) = smtp {
        cmd.env("VIDPIPE_SMTP_URL", smtp.url())
            .env("VIDPIPE_MAIL_FROM", "Talks <talks@example.org>");
    }
    cmd.output().expect("vidpipe runs")
}

/// Length and SHA-256 (hex) of a file.
pub fn sha256_of(path: &Path) -> (u64, String) {
    let bytes = std::fs::read(path).unwrap();
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (bytes.len() as u64, digest)
}

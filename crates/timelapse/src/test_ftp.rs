//! A real FTP server for tests (feature `test-util`): pyftpdlib running
//! `tests/fixtures/ftp_server.py` over a folder on a free loopback port, stopped when
//! dropped. Its options (a login, TLS with a test CA, no MLSD, dropped transfers) are
//! the script's.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The script, from this crate's folder in the workspace.
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/ftp_server.py"
);

pub struct FtpServer {
    child: Child,
    pub port: u16,
    /// Where the server logs each RETR: `ftp-retr.log` beside the served folder.
    pub log: PathBuf,
}

impl FtpServer {
    /// Serves `dir` with the script's `extra` options; returns once it listens.
    ///
    /// # Panics
    /// When python3 or pyftpdlib is missing (`make python-packages` installs them).
    pub fn start(dir: &Path, extra: &[&str]) -> FtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .arg(dir)
            .arg(port.to_string())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (make python-packages installs pyftpdlib)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server starts");
        assert_eq!(
            line.trim(),
            "ready",
            "the FTP server did not start (is pyftpdlib installed?)"
        );
        let log = dir.parent().expect("a parent folder").join("ftp-retr.log");
        FtpServer { child, port, log }
    }

    /// `ftp://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("ftp://127.0.0.1:{}/", self.port)
    }

    /// The names retrieved so far, one per RETR.
    pub fn retrieved(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! The Node servers the tests publish to (`tests/tus`, npm packages installed by
//! `make tus-server-packages`): `server.mjs`, a real tus server (@tus/server), and
//! `platforms.mjs`, stand-ins of YouTube, Google's token endpoint, Vimeo (its uploads
//! on a real tus server) and Facebook. For the tests of this crate, the CLI and the
//! Lambda functions (feature `test-util`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A Node server of `tests/tus`, stopped when dropped.
pub struct NodeServer {
    child: Child,
    /// Where it listens (`http://127.0.0.1:<port>`, with `/files` for `server.mjs`).
    pub url: String,
    /// The folder its uploads are stored in, one file per upload.
    pub dir: PathBuf,
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeServer {
    /// Starts `tests/tus/<script>` storing uploads in `dir`, and waits for the one line
    /// it prints once listening, `{"url": …}`.
    ///
    /// # Panics
    /// Node or the npm packages are missing, or the server does not start.
    pub fn start(script: &str, dir: &Path) -> NodeServer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tus");
        assert!(
            root.join("node_modules/@tus/server").is_dir(),
            "@tus/server is not installed: run `make tus-server-packages`"
        );
        std::fs::create_dir_all(dir).expect("the upload folder");
        let mut child = Command::new("node")
            .arg(root.join(script))
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server starts");
        let ready: serde_json::Value =
            serde_json::from_str(&line).expect("the server's address, as JSON");
        NodeServer {
            child,
            url: ready["url"].as_str().expect("url").to_string(),
            dir: dir.to_path_buf(),
        }
    }
}

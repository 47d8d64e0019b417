//! `vidpipe auth`: pasted tokens kept in the credentials file, its owner's alone, and
//! never printed; what is refused. (Google's consent flow is tested in
//! `crates/platforms/tests/auth.rs`, against its stand-in.)

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn auth(credentials: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vidpipe"))
        .arg("auth")
        .arg("--credentials")
        .arg(credentials)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn pasted_tokens_are_kept_for_their_owner_only_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conf/vidpipe/credentials.json");
    let o = auth(&file, &["vimeo"], "vimeo-tok-123\n");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("Vimeo credentials saved"),
        "{}",
        text(&o.stdout)
    );
    let o = auth(
        &file,
        &[
            "facebook",
            "--app-id",
            "1234567890",
            "--page-id",
            "100064123",
        ],
        "EAAuser\nEAApage\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let everything = text(&o.stdout) + &text(&o.stderr);
    assert!(
        !everything.contains("EAAuser") && !everything.contains("EAApage"),
        "{everything}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        kept["vimeo"]["access_token"], "vimeo-tok-123",
        "the first one stays"
    );
    assert_eq!(kept["facebook"]["page_id"], "100064123");
    assert_eq!(kept["facebook"]["page_token"], "EAApage");
}

#[test]
fn a_missing_token_or_a_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("credentials.json");
    let o = auth(&file, &["vimeo"], "");
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("no Vimeo access token on standard input"),
        "{}",
        text(&o.stderr)
    );
    assert!(!file.exists(), "nothing written");
    let o = auth(
        &file,
        &["facebook", "--app-id", "1", "--page-id", "2"],
        "EAAuser\n  \n",
    );
    assert!(
        text(&o.stderr).contains("Facebook Page token is empty"),
        "{}",
        text(&o.stderr)
    );
    std::fs::write(&file, b"{}").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = auth(&file, &["vimeo"], "tok\n");
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("chmod 600"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&file).unwrap(), b"{}", "left as it was");
}

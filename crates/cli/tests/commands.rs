//! Progress reporting and the `list`/`show` commands.

mod common;

use std::process::Command;

use common::*;

#[test]
fn progress_is_logged_off_a_terminal_and_drawn_as_a_bar_on_one() {
    let tmp = tempfile::tempdir().unwrap();
    let video = make_media(
        tmp.path(),
        "clip",
        Media {
            seconds: 4.0,
            size: Some("320x240"),
            ..Media::default()
        },
    );
    let out = tmp.path().join("out");
    let logged = Command::new(env!("CARGO_BIN_EXE_vidpipe"))
        .args([
            "--out",
            out.to_str().unwrap(),
            "process",
            video.to_str().unwrap(),
        ])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(logged.status.success(), "{}", text(&logged.stderr));
    let stderr = text(&logged.stderr);
    assert!(stderr.contains("transcode 100% (4.0/4.0 s)"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no colour codes off a terminal");

    // On a terminal (a pty made by util-linux `script`): the bar, not the log lines.
    let command = format!(
        "{} --out {} process --force {}",
        env!("CARGO_BIN_EXE_vidpipe"),
        out.display(),
        video.display()
    );
    let tty = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(tty.status.success(), "{}", text(&tty.stdout));
    let screen = text(&tty.stdout);
    assert!(
        screen.contains("transcode ") && screen.contains('%') && screen.contains("eta"),
        "{screen}"
    );
    assert!(!screen.contains("INFO"), "{screen}");
}

#[test]
fn list_and_show_print_what_the_database_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(text(&vidpipe(&out, &["list"]).stdout).contains("no videos"));
    let video = make_media(
        tmp.path(),
        "clip",
        Media {
            seconds: 3.0,
            size: Some("320x240"),
            ..Media::default()
        },
    );
    let empty = tmp.path().join("empty.mov");
    std::fs::write(&empty, b"").unwrap();
    assert!(process(&out, &video, &[]).status.success());
    assert!(!process(&out, &empty, &[]).status.success());

    let listed = text(&vidpipe(&out, &["list"]).stdout);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        listed.contains("published") && listed.contains("clip"),
        "{listed}"
    );
    assert!(
        listed.contains("failed at ingest") && listed.contains("empty (0 bytes)"),
        "{listed}"
    );

    let id = record_of(&out, "clip.mp4")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = text(&vidpipe(&out, &["show", &id[..6]]).stdout);
    assert!(
        shown.contains(&id) && shown.contains("transcode") && shown.contains("video_240p.mp4"),
        "{shown}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&vidpipe(&out, &["show", &id, "--json"]).stdout).unwrap();
    assert_eq!(json["id"], id.as_str());
    let missing = vidpipe(&out, &["show", "ffffffff"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("no video with id ffffffff"));
}

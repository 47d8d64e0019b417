//! `vidpipe timelapse` end to end: frames with known times (a gap, a duplicate, an
//! untimed name, transparency) made by the tests, served by a real FTP server
//! (pyftpdlib), made into movies by the real ffmpeg, and the movies read back frame by
//! frame: each test frame carries its index as five black or white blocks.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use common::{error_lines, free_port, text, vidpipe};
use image::{Rgba, RgbaImage};
use serde_json::Value;
use vidpipe_timelapse::test_ftp::FtpServer;

const W: u32 = 160;
const H: u32 = 96;
const BASEMAP: [u8; 3] = [0, 0, 200];
const DATA: [u8; 3] = [128, 128, 128];

fn t0() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 2, 20)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

/// The name of the frame `k` six-hour steps after 2024-02-20 00:00.
fn name_at(k: i64) -> String {
    (t0() + Duration::hours(6 * k))
        .format("pw_%Y%m%d_%H%M.png")
        .to_string()
}

/// A frame: the left half transparent, the right half grey, and on it the index as
/// five 16×16 blocks (white for a 1 bit) at y 16–32.
fn frame(index: u32, w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        if x < w / 2 {
            return Rgba([255, 0, 0, 0]);
        }
        let block = (x - w / 2) / 16;
        if (16..32).contains(&y) && block < 5 {
            let on = index >> block & 1 == 1;
            return if on {
                Rgba([255, 255, 255, 255])
            } else {
                Rgba([0, 0, 0, 255])
            };
        }
        Rgba([DATA[0], DATA[1], DATA[2], 255])
    })
}

/// The test's frames in `dir`: steps 0–11 but 5 (a gap), each marked with its step; a
/// duplicate of step 1 (marked 31) named after it; an old frame; a name without a
/// time.
fn write_frames(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for k in (0..12).filter(|&k| k != 5) {
        frame(k as u32, W, H).save(dir.join(name_at(k))).unwrap();
    }
    let dup = (t0() + Duration::hours(6))
        .format("zz_%Y%m%d_%H%M.png")
        .to_string();
    frame(31, W, H).save(dir.join(dup)).unwrap();
    frame(30, W, H).save(dir.join(name_at(-40))).unwrap();
    frame(29, W, H).save(dir.join("legend.png")).unwrap();
}

/// A temporary folder with the test's frames in its `served/`, for a server to serve.
fn served_frames() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    write_frames(&served);
    (tmp, served)
}

fn write_basemap(dir: &Path) -> PathBuf {
    let path = dir.join("basemap.png");
    RgbaImage::from_pixel(40, 24, Rgba([BASEMAP[0], BASEMAP[1], BASEMAP[2], 255]))
        .save(&path)
        .unwrap();
    path
}

/// The movie's frames as RGB bytes, decoded by ffmpeg.
fn decode(movie: &Path) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(movie)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let size = (W * H * 3) as usize;
    assert_eq!(out.stdout.len() % size, 0, "whole {W}x{H} frames");
    out.stdout.chunks(size).map(<[u8]>::to_vec).collect()
}

fn px(frame: &[u8], x: u32, y: u32) -> [u8; 3] {
    let i = ((y * W + x) * 3) as usize;
    [frame[i], frame[i + 1], frame[i + 2]]
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter()
        .zip(b)
        .all(|(&x, y)| (i32::from(x) - i32::from(y)).abs() <= 24)
}

/// The index a movie frame carries.
fn marker(frame: &[u8]) -> u32 {
    (0..5)
        .filter(|b| {
            let p = px(frame, W / 2 + 16 * b + 8, 24);
            p.iter().map(|&c| u32::from(c)).sum::<u32>() > 3 * 128
        })
        .map(|b| 1 << b)
        .sum()
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the run report")).unwrap()
}

fn run(out: &Path, args: &[&str]) -> Output {
    let mut all = vec!["timelapse"];
    all.extend_from_slice(args);
    vidpipe(out, &all)
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

fn failed_with(o: &Output, wanted: &[&str]) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let errors = error_lines(o).join("\n");
    for w in wanted {
        assert!(errors.contains(w), "{w:?} not in: {errors}");
    }
    errors
}

#[test]
fn frames_from_ftp_are_downloaded_once_and_made_into_a_movie_over_the_basemap() {
    let (tmp, served) = served_frames();
    let basemap = write_basemap(tmp.path());
    let server = FtpServer::start(&served, &[]);
    let frames = tmp.path().join("frames");
    std::fs::create_dir_all(&frames).unwrap();
    frame(0, W, H)
        .save(frames.join("pw_20240101_0000.png"))
        .unwrap();
    let out = tmp.path().join("out");
    let args = [
        "--input",
        &server.url(),
        "--period",
        "P3D",
        "--fill",
        "hold",
        "--label",
        "--basemap",
        basemap.to_str().unwrap(),
        "--frames",
        frames.to_str().unwrap(),
        "--name",
        "pw",
        "--movie-only",
        "--x264-preset",
        "ultrafast",
    ];

    let first = run(&out, &args);
    ok(&first);
    let r = report(&out.join("movies/pw.report.json"));
    let downloaded = r["sync"]["downloaded"].as_array().unwrap().len();
    assert_eq!(
        downloaded, 11,
        "the period's frames, not the duplicate, the old one or the untimed: {r:#}"
    );
    assert_eq!(server.retrieved().len(), 11);
    assert_eq!(
        r["sync"]["removed"],
        serde_json::json!(["pw_20240101_0000.png"]),
        "aged out"
    );
    assert!(!frames.join("pw_20240101_0000.png").exists());
    assert!(
        served.join(name_at(-40)).exists(),
        "nothing is deleted on the server"
    );
    assert_eq!(
        r["frames"]["gaps"],
        serde_json::json!(["2024-02-21T06:00:00Z"])
    );
    assert_eq!(
        r["frames"]["duplicates"][0]["dropped"],
        "zz_20240220_0600.png"
    );
    assert_eq!(r["frames"]["untimed"], serde_json::json!(["legend.png"]));
    assert_eq!(r["frames"]["cadence_s"], 6 * 3600);
    assert_eq!(r["period"]["first_frame"], "2024-02-20T00:00:00Z");
    assert_eq!(r["period"]["last_frame"], "2024-02-22T18:00:00Z");
    assert!(r["error"].is_null());
    let line = text(&first.stdout);
    assert!(
        line.contains("11 downloaded") && line.contains("1 gap(s)"),
        "{line}"
    );

    let movie = out.join("movies/pw.mp4");
    let probe = common::ffprobe(&movie);
    assert!(
        (common::duration_s(&probe) - 12.0 / 30.0).abs() < 0.02,
        "{probe}"
    );
    let pictures = decode(&movie);
    let order: Vec<u32> = pictures.iter().map(|f| marker(f)).collect();
    assert_eq!(
        order,
        [0, 1, 2, 3, 4, 4, 6, 7, 8, 9, 10, 11],
        "time order, the gap held"
    );
    for p in &pictures {
        assert!(
            near(px(p, 40, 48), BASEMAP),
            "basemap where the data is transparent: {:?}",
            px(p, 40, 48)
        );
        assert!(
            near(px(p, 120, 60), DATA),
            "data where it is opaque: {:?}",
            px(p, 120, 60)
        );
    }
    // The label: a black box with white text over the bottom-left corner.
    let corner: Vec<[u8; 3]> = (4..60).map(|x| px(&pictures[0], x, 88)).collect();
    assert!(
        corner.iter().any(|p| p.iter().all(|&c| c > 180)),
        "white text: {corner:?}"
    );
    assert!(
        corner.iter().all(|p| !near(*p, BASEMAP)),
        "the box hides the basemap: {corner:?}"
    );

    // Nothing new: nothing downloaded.
    let second = run(&out, &args);
    ok(&second);
    let r = report(&out.join("movies/pw.report.json"));
    assert_eq!(r["sync"]["downloaded"], serde_json::json!([]));
    assert_eq!(r["sync"]["up_to_date"], 11);
    assert_eq!(server.retrieved().len(), 11, "no RETR the second time");

    // A frame changed on the server: that one again.
    frame(7, W, H + 2).save(served.join(name_at(7))).unwrap();
    let third = run(&out, &[&args[..], &["--size", "160x96"]].concat());
    ok(&third);
    let r = report(&out.join("movies/pw.report.json"));
    assert_eq!(r["sync"]["downloaded"], serde_json::json!([name_at(7)]));
}

#[test]
fn a_folder_of_frames_goes_through_the_pipeline_and_into_the_catalog() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("DroughtRisk_Weekly");
    write_frames(&dir);
    let basemap = write_basemap(tmp.path());
    let catalog = tmp.path().join("dataset.json");
    std::fs::write(
        &catalog,
        r#"{"datasets": [{"id": "INTERNAL_SOS_726", "title": "Drought Risk", "startTime": "", "endTime": ""}]}"#,
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = run(
        &out,
        &[
            "--input",
            dir.to_str().unwrap(),
            "--period",
            "1W",
            "--fps",
            "5",
            "--basemap",
            basemap.to_str().unwrap(),
            "--x264-preset",
            "ultrafast",
            "--catalog",
            catalog.to_str().unwrap(),
            "--dataset-id",
            "INTERNAL_SOS_726",
        ],
    );
    ok(&o);
    let r = report(&out.join("movies/DroughtRisk_Weekly.report.json"));
    assert_eq!(r["pipeline"]["status"], "published", "{r:#}");
    assert_eq!(r["catalog"]["result"], "updated");
    assert_eq!(
        r["frames"]["used"], 11,
        "the old frame is inside a week: no; {r:#}"
    );
    let movie = out.join("movies/DroughtRisk_Weekly.mp4");
    let order: Vec<u32> = decode(&movie).iter().map(|f| marker(f)).collect();
    assert_eq!(
        order,
        [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11],
        "no fill: the gap skipped"
    );
    let unlabelled = decode(&movie);
    assert!(
        near(px(&unlabelled[0], 20, 88), BASEMAP),
        "no label: the basemap shows"
    );
    let probe = common::ffprobe(&movie);
    assert!(
        (common::duration_s(&probe) - 11.0 / 5.0).abs() < 0.05,
        "{probe}"
    );

    let entry = &serde_json::from_str::<Value>(&std::fs::read_to_string(&catalog).unwrap())
        .unwrap()["datasets"][0];
    assert_eq!(entry["startTime"], "2024-02-20T00:00:00Z");
    assert_eq!(entry["endTime"], "2024-02-22T18:00:00Z");
    assert_eq!(entry["title"], "Drought Risk");
    // The pipeline's outputs of the movie: renditions, a cover, no transcript.
    let id = r["pipeline"]["video_id"].as_str().unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join(id).join("manifest.json")).unwrap())
            .unwrap();
    let outputs = manifest.to_string();
    assert!(
        outputs.contains(".mp4") && outputs.contains("cover.jpg"),
        "{manifest:#}"
    );
    assert!(
        !out.join(id).join("transcripts").exists(),
        "no audio, no transcript"
    );
}

#[test]
fn a_dry_run_lists_the_server_and_touches_nothing() {
    let (tmp, served) = served_frames();
    let server = FtpServer::start(&served, &["--no-mlsd"]);
    let out = tmp.path().join("out");
    let frames = tmp.path().join("frames");
    let o = run(
        &out,
        &[
            "--input",
            &server.url(),
            "--period",
            "P3D",
            "--frames",
            frames.to_str().unwrap(),
            "--dry-run",
        ],
    );
    ok(&o);
    let stdout = text(&o.stdout);
    let json_end = stdout.rfind("}\n").expect("the report") + 1;
    let r: Value = serde_json::from_str(&stdout[..json_end]).unwrap();
    assert_eq!(r["dry_run"], true);
    assert_eq!(
        r["sync"]["downloaded"].as_array().unwrap().len(),
        11,
        "would download, listed by NLST: {r:#}"
    );
    assert_eq!(r["movie"]["steps"], 11);
    assert!(stdout.contains("11 to download"), "{stdout}");
    assert!(server.retrieved().is_empty(), "no RETR");
    assert!(!frames.exists() && !out.exists(), "nothing written");
}

#[test]
fn a_server_that_drops_mid_transfer_is_tried_again_then_named() {
    let (tmp, served) = served_frames();
    let out = tmp.path().join("out");
    let frames = tmp.path().join("frames");
    let base = |url: &str| {
        vec![
            "--input".to_string(),
            url.to_string(),
            "--period".into(),
            "P3D".into(),
            "--frames".into(),
            frames.to_str().unwrap().into(),
            "--movie-only".into(),
            "--x264-preset".into(),
            "ultrafast".into(),
            "--name".into(),
            "served".into(),
        ]
    };
    {
        let once = FtpServer::start(&served, &["--drop", &format!("{}:1", name_at(3))]);
        let args = base(&once.url());
        let o = run(&out, &args.iter().map(String::as_str).collect::<Vec<_>>());
        ok(&o);
        let r = report(&out.join("movies/served.report.json"));
        assert_eq!(
            r["sync"]["downloaded"].as_array().unwrap().len(),
            11,
            "{r:#}"
        );
        let tries = once
            .retrieved()
            .iter()
            .filter(|n| **n == name_at(3))
            .count();
        assert_eq!(tries, 2, "dropped once, then fetched");
    }
    std::fs::remove_dir_all(&frames).unwrap();
    std::fs::remove_file(tmp.path().join("ftp-retr.log")).unwrap();
    let always = FtpServer::start(&served, &["--drop", &format!("{}:99", name_at(4))]);
    let args = base(&always.url());
    let o = run(&out, &args.iter().map(String::as_str).collect::<Vec<_>>());
    failed_with(&o, &["1 frame(s) could not be downloaded", &name_at(4)]);
    let fetched = std::fs::read_dir(&frames).unwrap().count();
    assert_eq!(fetched, 10, "the others are kept");
    let tries = always
        .retrieved()
        .iter()
        .filter(|n| **n == name_at(4))
        .count();
    assert_eq!(tries, 3);
}

#[test]
fn ftps_is_used_when_the_server_offers_it_and_required_by_ftps_urls() {
    let (tmp, served) = served_frames();
    let certs = tmp.path().join("certs");
    let out = tmp.path().join("out");
    let ca = certs.join("ca.pem");
    let movie_only = [
        "--period",
        "P3D",
        "--movie-only",
        "--x264-preset",
        "ultrafast",
    ];
    {
        let tls = FtpServer::start(&served, &["--tls", certs.to_str().unwrap()]);
        let o = run(
            &out,
            &[
                &["--input", &tls.url(), "--ftp-ca", ca.to_str().unwrap()],
                &movie_only[..],
            ]
            .concat(),
        );
        ok(&o);
        let r = report(&out.join("movies/127.0.0.1.report.json"));
        assert_eq!(r["sync"]["tls"], true, "{r:#}");
        assert_eq!(r["sync"]["downloaded"].as_array().unwrap().len(), 11);
        // A certificate nobody vouches for: refused, not a fall back to the clear.
        let o = run(
            &tmp.path().join("out2"),
            &[&["--input", &tls.url()], &movie_only[..]].concat(),
        );
        failed_with(&o, &["TLS", "UnknownIssuer"]);
    }
    let plain = FtpServer::start(&served, &[]);
    let ftps = plain.url().replace("ftp://", "ftps://");
    let o = run(&out, &[&["--input", &ftps], &movie_only[..]].concat());
    failed_with(&o, &["refused AUTH TLS"]);
    let o = run(
        &out,
        &[&["--input", &plain.url()], &movie_only[..]].concat(),
    );
    ok(&o);
    let r = report(&out.join("movies/127.0.0.1.report.json"));
    assert_eq!(
        r["sync"]["tls"], false,
        "in the clear when TLS is not offered"
    );
}

#[test]
fn ftp_logins_refused_and_servers_unreachable_are_errors() {
    let (tmp, served) = served_frames();
    let out = tmp.path().join("out");
    let server = FtpServer::start(&served, &["--user", "sci", "--password", "right"]);
    let url = format!("ftp://sci:wrong@127.0.0.1:{}/", server.port);
    let o = run(&out, &["--input", &url, "--period", "P3D"]);
    let e = failed_with(&o, &["refused the login of \"sci\"", "530"]);
    assert!(
        !e.contains("wrong") && !text(&o.stdout).contains("wrong"),
        "no password shown: {e}"
    );
    let good = format!("ftp://sci:right@127.0.0.1:{}/", server.port);
    ok(&run(
        &out,
        &[
            "--input",
            &good,
            "--period",
            "P3D",
            "--movie-only",
            "--x264-preset",
            "ultrafast",
        ],
    ));

    let nobody = format!("ftp://127.0.0.1:{}/", free_port());
    let o = run(&out, &["--input", &nobody, "--period", "P3D"]);
    failed_with(&o, &["cannot connect"]);
}

#[test]
fn bad_frames_periods_and_basemaps_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let dir = tmp.path().join("frames");
    let d = dir.to_str().unwrap();
    std::fs::create_dir_all(&dir).unwrap();

    failed_with(
        &run(&out, &["--input", d, "--period", "P1Y"]),
        &["no frames"],
    );
    std::fs::write(dir.join("a.png"), b"x").unwrap();
    failed_with(
        &run(&out, &["--input", d, "--period", "P1Y"]),
        &["no file name has a time", "a.png"],
    );

    write_frames(&dir);
    let o = run(
        &out,
        &["--input", d, "--period", "P1Y", "--end", "2020-01-01"],
    );
    failed_with(&o, &["no frames in the period", "2019-01-01"]);

    let o = run(&out, &["--input", d, "--period", "P1Yjunk"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("P1Yjunk"), "{}", text(&o.stderr));

    let not_image = tmp.path().join("basemap.png");
    std::fs::write(&not_image, "<html>").unwrap();
    let o = run(
        &out,
        &[
            "--input",
            d,
            "--period",
            "P3D",
            "--basemap",
            not_image.to_str().unwrap(),
        ],
    );
    failed_with(&o, &["basemap", "basemap.png", "not a readable image"]);

    frame(12, W + 32, H).save(dir.join(name_at(12))).unwrap();
    let o = run(&out, &["--input", d, "--period", "P3D", "--movie-only"]);
    failed_with(
        &o,
        &[
            "frames of different sizes",
            "11 at 160x96",
            "1 at 192x96",
            "--size",
        ],
    );
    let o = run(
        &out,
        &[
            "--input",
            d,
            "--period",
            "P3D",
            "--movie-only",
            "--size",
            "160x96",
            "--x264-preset",
            "ultrafast",
        ],
    );
    ok(&o);
    let fitted = decode(&out.join("movies/frames.mp4"));
    assert_eq!(fitted.len(), 12);
    std::fs::remove_file(dir.join(name_at(12))).unwrap();

    let good = std::fs::read(dir.join(name_at(6))).unwrap();
    let mut corrupt = good[..good.len() / 2].to_vec();
    corrupt.extend_from_slice(&[0x5A; 64]);
    std::fs::write(dir.join(name_at(6)), corrupt).unwrap();
    let before = std::fs::read(out.join("movies/frames.mp4")).unwrap();
    let o = run(&out, &["--input", d, "--period", "P3D", "--movie-only"]);
    failed_with(&o, &[&name_at(6), "not a readable image"]);
    assert_eq!(
        std::fs::read(out.join("movies/frames.mp4")).unwrap(),
        before,
        "last movie kept"
    );
    assert!(
        !out.join("movies/.frames.mp4.part").exists(),
        "no temporary left"
    );
    let r = report(&out.join("movies/frames.report.json"));
    assert!(r["error"].as_str().unwrap().contains(&name_at(6)), "{r:#}");
    assert_eq!(r["movie"]["made"], false);
    assert!(
        text(&o.stdout).contains("did not make"),
        "{}",
        text(&o.stdout)
    );
    std::fs::write(dir.join(name_at(6)), good).unwrap();

    // A catalog without the dataset: named, and the catalog left as it was.
    let catalog = tmp.path().join("dataset.json");
    std::fs::write(&catalog, r#"{"datasets": [{"id": "other"}]}"#).unwrap();
    let c = catalog.to_str().unwrap();
    let o = run(
        &out,
        &[
            "--input",
            d,
            "--period",
            "P3D",
            "--movie-only",
            "--x264-preset",
            "ultrafast",
            "--catalog",
            c,
            "--dataset-id",
            "pw",
        ],
    );
    failed_with(&o, &["no dataset with id \"pw\"", "other"]);
    assert_eq!(
        std::fs::read_to_string(&catalog).unwrap(),
        r#"{"datasets": [{"id": "other"}]}"#
    );
    let r = report(&out.join("movies/frames.report.json"));
    assert_eq!(r["catalog"]["result"], "failed");
    assert_eq!(
        r["movie"]["made"], true,
        "the movie is made before the catalog is written"
    );
}

//! `vidpipe serve` through its JSON API (the browser test drives the pages): uploads,
//! links from a local web server, live events, search, and each refusal the server
//! owes: no token, a cross-site or token-less browser request, a private link, another
//! scheme, a path out of the folder, too large, empty, a bad sidecar.

mod common;

use std::io::Read;
use std::time::Duration;

use common::server::{Server, StaticServer};
use common::*;
use serde_json::Value;

const SETTLE: Duration = Duration::from_secs(240);

/// `dir/name.mp4`: a short clip of testsrc2 with a tone.
fn clip(dir: &std::path::Path, name: &str, seconds: f64, size: &str) -> std::path::PathBuf {
    make_media(
        dir,
        name,
        Media {
            seconds,
            size: Some(size),
            ..Media::default()
        },
    )
}

#[test]
fn an_upload_is_processed_followed_live_and_found_by_search() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let server = Server::start(&out, &["--no-transcribe"]);
    let video = clip(tmp.path(), "upload talk", 4.0, "320x240");

    // The event stream, opened before the upload: it must tell of the new video.
    let mut events = server.events("/api/events");
    assert_eq!(events.headers()["content-type"], "text/event-stream");

    let r = server.upload(
        &video,
        Some(r#"{"title": "Observability budgets", "tags": ["telemetry"]}"#),
    );
    assert_eq!(r.status(), 202);
    let body: Value = r.json().unwrap();
    let id = body["id"].as_str().expect("an id at once").to_string();
    assert_eq!(id.len(), 16);

    // This video's own stream, opened as its page opens it.
    let mut one = server.events(&format!("/api/videos/{id}/events"));
    let mine = read_until(&mut one, &["\"status\":\"published\""]);
    assert!(mine.contains(&format!("\"id\":\"{id}\"")), "{mine}");
    let seen = read_until(&mut events, &["\"status\":\"published\""]);
    assert!(
        seen.contains("event: video") && seen.contains(&id),
        "{seen}"
    );
    assert!(
        seen.contains("\"status\":\"processing\""),
        "progress before the end: {seen}"
    );

    let v = server.wait_settled(&id, SETTLE);
    assert_eq!(v["status"], "published", "{v}");
    assert_eq!(v["title"], "Observability budgets");
    assert!(
        v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] != "pending"),
        "{v}"
    );
    let list = server.json("/api/videos");
    assert_eq!(list.as_array().unwrap()[0]["id"], id.as_str());

    // The page and its files.
    let page = server.get(&format!("/videos/{id}")).text().unwrap();
    assert!(
        page.contains("Observability budgets") && page.contains("data-hls=\"/media/"),
        "{page}"
    );
    let master = server.get(&format!("/media/{id}/hls/video.m3u8"));
    assert_eq!(master.status(), 200);
    assert!(master.text().unwrap().starts_with("#EXTM3U"));
    let ranged = reqwest::blocking::Client::new()
        .get(format!(
            "{}{}",
            server.url,
            v["cover_url"].as_str().unwrap()
        ))
        .header("Range", "bytes=0-9")
        .send()
        .unwrap();
    assert_eq!(
        (ranged.status().as_u16(), ranged.bytes().unwrap().len()),
        (206, 10)
    );

    // Search: the title, the tags; the command line finds the same.
    let hits = server.json("/api/search?q=telemetry");
    assert_eq!(hits[0]["video_id"], id.as_str(), "{hits}");
    assert_eq!(hits[0]["field"], "tags");
    let o = vidpipe(&out, &["search", "observability", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let cli: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(cli[0]["video_id"], id.as_str());
    let none = vidpipe(&out, &["search", "xylophone"]);
    assert_eq!(none.status.code(), Some(1));
}

#[test]
fn a_link_is_downloaded_with_its_subtitles_and_the_report_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    clip(&site, "talk", 4.0, "320x240");
    std::fs::write(
        site.join("talk.vtt"),
        "WEBVTT\n\n00:00.000 --> 00:02.000\nSubtitles from the page\n",
    )
    .unwrap();
    std::fs::write(
        site.join("talk.html"),
        r#"<html><head><title>Linked talk</title></head><body><video controls src="talk.mp4"><track kind="subtitles" srclang="en" src="talk.vtt"></video></body></html>"#,
    )
    .unwrap();
    std::fs::write(
        site.join("nothing.html"),
        "<html><body>no video here</body></html>",
    )
    .unwrap();
    let web = StaticServer::start(&site);
    let out = tmp.path().join("out");
    let server = Server::start(&out, &["--no-transcribe", "--allow-private-links"]);
    let post = |url: String| {
        reqwest::blocking::Client::new()
            .post(format!("{}/api/videos", server.url))
            .json(&serde_json::json!({ "url": url }))
            .send()
            .unwrap()
    };
    let r = post(format!("{}/talk.html", web.url));
    assert_eq!(r.status(), 202);
    let job = r.json::<Value>().unwrap()["job"].as_u64().unwrap();
    let bad = post(format!("{}/nothing.html", web.url))
        .json::<Value>()
        .unwrap()["job"]
        .as_u64()
        .unwrap();
    let start = std::time::Instant::now();
    let jobs = loop {
        let jobs = server.json("/api/jobs");
        let settled = |n: u64| {
            jobs.as_array().unwrap().iter().any(|j| {
                j["job"] == n && matches!(j["state"].as_str(), Some("published" | "failed"))
            })
        };
        if settled(job) && settled(bad) {
            break jobs;
        }
        assert!(start.elapsed() < SETTLE, "{jobs}");
        std::thread::sleep(Duration::from_millis(300));
    };
    let find = |n: u64| {
        jobs.as_array()
            .unwrap()
            .iter()
            .find(|j| j["job"] == n)
            .unwrap()
            .clone()
    };
    let good = find(job);
    assert_eq!(good["state"], "published", "{good}");
    let failed = find(bad);
    assert_eq!(failed["state"], "failed");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("no video found at this link"),
        "{failed}"
    );

    let id = good["video_id"].as_str().unwrap();
    let v = server.json(&format!("/api/videos/{id}"));
    assert!(
        v["title"].as_str().unwrap().starts_with("Linked talk"),
        "{v}"
    );
    let kept = out.join(id).join("transcripts/subtitles.en.vtt");
    assert!(std::fs::read_to_string(kept)
        .unwrap()
        .contains("Subtitles from the page"));
    let report = std::fs::read_to_string(out.join(id).join("report.html")).unwrap();
    assert!(
        report.contains("Captions: the link&#39;s English subtitles")
            || report.contains("Captions: the link's English subtitles"),
        "the report says which captions it shows"
    );
}

#[test]
fn the_server_refuses_what_it_must() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");

    // Beyond loopback only with a token.
    let o = vidpipe(&out, &["serve", "--listen", "0.0.0.0:0"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("needs --token"),
        "{}",
        text(&o.stderr)
    );

    let token = "0123456789abcdef-secret";
    let server = Server::start(
        &out,
        &["--no-transcribe", "--token", token, "--max-upload-mib", "1"],
    );
    let client = reqwest::blocking::Client::new();
    let url = |p: &str| format!("{}{p}", server.url);
    assert_eq!(client.get(url("/")).send().unwrap().status(), 401);
    assert_eq!(
        client
            .get(url("/api/videos"))
            .bearer_auth("wrong-token-wrong-token")
            .send()
            .unwrap()
            .status(),
        401
    );
    let authed = |b: reqwest::blocking::RequestBuilder| b.bearer_auth(token).send().unwrap();
    assert_eq!(authed(client.get(url("/"))).status(), 200);
    // A browser's first visit with ?token= gets the cookie.
    let first = client.get(url(&format!("/?token={token}"))).send().unwrap();
    assert!(first.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("HttpOnly"));

    // Links: loopback, another scheme.
    let link = |u: &str| {
        authed(
            client
                .post(url("/api/videos"))
                .json(&serde_json::json!({ "url": u })),
        )
    };
    let r = link("http://127.0.0.1:9/a.mp4");
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .unwrap()
        .contains("loopback, private or link-local"));
    let r = link("file:///etc/passwd");
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("only http and https"));

    // Paths: ids and file names cannot leave the output folder.
    for p in [
        "/videos/..%2f..%2fetc%2fpasswd",
        "/api/videos/../../vidpipe.db",
        "/media/0000000000000000/../vidpipe.db",
        "/media/..%2fvidpipe.db/x",
        "/media/0000000000000000/..%2f..%2fvidpipe.db",
        "/fragments/videos/nope",
    ] {
        let s = authed(client.get(url(p))).status();
        assert_eq!(s, 404, "{p}");
    }

    // Browsers: another site's post, or one without the CSRF token, is refused.
    let post_link = |header: &str, value: &str| {
        authed(
            client
                .post(url("/api/videos"))
                .header(header, value)
                .json(&serde_json::json!({ "url": "https://example.org/" })),
        )
    };
    let cross = post_link("Origin", "http://evil.example");
    assert_eq!(cross.status(), 403);
    let no_csrf = post_link("Sec-Fetch-Site", "same-origin");
    assert_eq!(no_csrf.status(), 403);
    assert!(no_csrf.text().unwrap().contains("CSRF"));
    let page = authed(client.get(url("/"))).text().unwrap();
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let edit = authed(
        client
            .post(url("/videos/0000000000000000/edit"))
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[
                ("csrf", "wrong"),
                ("title", "x"),
                ("description", ""),
                ("speakers", ""),
                ("tags", ""),
            ]),
    );
    assert_eq!(edit.status(), 403, "a form with a wrong token");
    assert_eq!(csrf.len(), 32);

    // Uploads: too large, empty, a bad sidecar.
    let upload = |form: reqwest::blocking::multipart::Form| {
        authed(client.post(url("/api/videos")).multipart(form))
    };
    let big = tmp.path().join("big.mp4");
    // Over the limit, under the request-length check's slack: refused while it streams.
    std::fs::write(&big, vec![7u8; 3 << 19]).unwrap();
    let r = upload(
        reqwest::blocking::multipart::Form::new()
            .file("file", &big)
            .unwrap(),
    );
    assert_eq!(r.status(), 413);
    assert!(r.text().unwrap().contains("--max-upload-mib"));
    let empty = tmp.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let r = upload(
        reqwest::blocking::multipart::Form::new()
            .file("file", &empty)
            .unwrap(),
    );
    assert_eq!(r.status(), 400);
    assert!(r.text().unwrap().contains("empty (0 bytes)"));
    let small = clip(tmp.path(), "small", 1.0, "160x120");
    let r = upload(
        reqwest::blocking::multipart::Form::new()
            .file("file", &small)
            .unwrap()
            .text("sidecar", "{\"start\": \"later\"}"),
    );
    assert_eq!(r.status(), 400);
    let r = upload(reqwest::blocking::multipart::Form::new().text("other", "x"));
    assert_eq!(r.status(), 400);
    // Nothing of the refused uploads is left behind.
    let incoming = out.join("incoming");
    let left = std::fs::read_dir(&incoming).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "refused uploads are removed");
}

#[test]
fn several_files_go_through_one_queue_and_end_in_a_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let a = clip(tmp.path(), "a", 2.0, "160x120");
    let b = clip(tmp.path(), "b", 3.0, "160x120");
    let empty = tmp.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let o = vidpipe(
        &out,
        &[
            "process",
            "--no-transcribe",
            "-j",
            "2",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            empty.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "one failed: {}", text(&o.stderr));
    let table = text(&o.stdout);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} in {table}"))
            .to_string()
    };
    assert!(line("a.mp4").contains("published"), "{table}");
    assert!(line("b.mp4").contains("published"), "{table}");
    assert!(
        line("empty.mp4").contains("failed") && line("empty.mp4").contains("empty"),
        "{table}"
    );
    assert!(table.contains("2 of 3 published"), "{table}");
    assert_eq!(records(&out).len(), 3);
}

#[test]
fn a_watched_folder_processes_each_file_once_with_its_sidecar() {
    let tmp = tempfile::tempdir().unwrap();
    let drop = tmp.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    let out = tmp.path().join("out");
    clip(&drop, "first", 2.0, "160x120");
    std::fs::write(drop.join("first.json"), r#"{"title": "Dropped talk"}"#).unwrap();
    std::fs::write(drop.join("notes.txt"), "not a video").unwrap();
    watch_once(&out, &drop, "0.5");
    let all = records(&out);
    assert_eq!(all.len(), 1, "only the video");
    assert_eq!(all[0]["sidecar"]["title"], "Dropped talk");
    // Again: the same file is found done, not processed twice.
    watch_once(&out, &drop, "0.2");
    let again = records(&out);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["version"], all[0]["version"], "nothing redone");
}

#[test]
fn a_talk_sheet_dropped_in_the_watched_folder_fills_the_record() {
    let tmp = tempfile::tempdir().unwrap();
    let drop = tmp.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    let out = tmp.path().join("out");
    clip(&drop, "Metrics at scale", 2.0, "160x120");
    std::fs::write(
        drop.join("talks.csv"),
        "title,speakers,room\nMetrics at scale,Ada Lovelace,B1\nOther talk,Bob,B2\n",
    )
    .unwrap();
    watch_once(&out, &drop, "0.2");
    let all = records(&out);
    assert_eq!(all.len(), 1, "the sheet is not a video");
    let speakers = all[0]["sidecar"]["speakers"].to_string();
    assert!(
        speakers.contains("Ada Lovelace"),
        "the row filled the speakers: {}",
        all[0]
    );
}

#[test]
fn links_to_a_video_file_and_an_hls_stream_are_processed_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(site.join("hls")).unwrap();
    let file = clip(&site, "plain", 3.0, "320x240");
    let stream = clip(tmp.path(), "stream", 4.0, "160x120");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&stream)
        .args([
            "-c",
            "copy",
            "-f",
            "hls",
            "-hls_time",
            "1",
            "-hls_playlist_type",
            "vod",
        ])
        .arg(site.join("hls/index.m3u8"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "the HLS stream");
    assert!(file.exists());
    let web = StaticServer::start(&site);
    let out = tmp.path().join("out");
    let o = vidpipe(
        &out,
        &[
            "process",
            "--no-transcribe",
            &format!("{}/plain.mp4", web.url),
            &format!("{}/hls/index.m3u8", web.url),
            &format!("{}/missing.mp4", web.url),
        ],
    );
    let table = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{table}\n{}", text(&o.stderr));
    assert!(table.contains("2 of 3 published"), "{table}");
    let missing = table.lines().find(|l| l.contains("missing.mp4")).unwrap();
    assert!(
        missing.contains("failed") && missing.contains("404"),
        "{missing}"
    );
    let all = records(&out);
    let durations: Vec<f64> = all
        .iter()
        .map(|r| r["media"]["duration_s"].as_f64().unwrap())
        .collect();
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        durations.iter().any(|d| (d - 3.0).abs() < 0.2),
        "{durations:?}"
    );
    assert!(
        durations.iter().any(|d| (d - 4.0).abs() < 0.3),
        "{durations:?}"
    );
}

#[test]
fn a_run_started_from_the_command_line_shows_in_the_servers_events() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let server = Server::start(&out, &["--no-transcribe"]);
    let mut events = server.events("/api/events");
    let video = clip(tmp.path(), "from the terminal", 3.0, "320x240");
    let o = process(&out, &video, &["--no-transcribe"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let id = record_of(&out, "from the terminal.mp4")["id"]
        .as_str()
        .unwrap()
        .to_string();
    read_until(&mut events, &[id.as_str(), "\"status\":\"published\""]);
    // The library shows it too.
    let page = server.get("/").text().unwrap();
    assert!(page.contains(&format!("id=\"v-{id}\"")), "{page}");
}

#[test]
fn a_link_larger_than_the_download_limit_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    clip(&site, "big", 3.0, "320x240");
    let web = StaticServer::start(&site);
    let out = tmp.path().join("out");
    let o = vidpipe(
        &out,
        &[
            "process",
            "--no-transcribe",
            "--max-download-mib",
            "0",
            &format!("{}/big.mp4", web.url),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let table = text(&o.stdout);
    assert!(
        table.contains("larger than the limit of 0 bytes"),
        "{table}"
    );
    let downloads = out.join("downloads");
    let kept: Vec<_> = walk(&downloads)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    assert!(kept.is_empty(), "nothing too large is kept: {kept:?}");
}

/// `vidpipe watch DIR --once`, without speech; it must succeed.
fn watch_once(out: &std::path::Path, dir: &std::path::Path, settle_s: &str) {
    let dir = dir.to_str().unwrap();
    let args = [
        "watch",
        dir,
        "--once",
        "--settle-s",
        settle_s,
        "--no-transcribe",
    ];
    let o = vidpipe(out, &args);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// Reads an event stream until everything in `wanted` has been seen; returns what was
/// read.
fn read_until(stream: &mut reqwest::blocking::Response, wanted: &[&str]) -> String {
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !wanted.iter().all(|w| seen.contains(w)) {
        let n = stream.read(&mut buf).expect("the stream stays open");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    seen
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

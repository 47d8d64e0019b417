//! The talk sheet, the speaker emails and the catalog, end to end: workbooks made
//! here (xlsx and ods with formatting and a formula, a CSV), real videos processed
//! with `--sheet`, a real SMTP server (aiosmtpd) receiving the emails, the workbooks
//! read back with calamine and umya-spreadsheet.

mod common;

use std::path::{Path, PathBuf};

use calamine::{open_workbook_auto, Reader};
use common::*;
use vidpipe_domain::outbox::DeliveryState;
use vidpipe_domain::ports::VideoRecords;

/// The name the conference team's upload had in its S3 event.
const TALK_FILE: &str = "Right+metrics+and+wrong+metrics%3A+Is+there+such+a+thing4%3F";
const TALK_TITLE: &str = "Right metrics and wrong metrics: Is there such a thing4?";

fn short_talk(dir: &Path) -> PathBuf {
    make_media(
        dir,
        TALK_FILE,
        Media {
            seconds: 3.0,
            size: Some("320x240"),
            ..Media::default()
        },
    )
}

/// Talks (bold header, a number format, a formula) and Speakers sheets.
fn make_xlsx(path: &Path) {
    let mut book = umya_spreadsheet::new_file();
    let talks = book.get_sheet_mut(&0).unwrap();
    talks.set_name("Talks");
    let rows: [[&str; 5]; 3] = [
        ["Title", "Speakers", "In", "Out", "Abstract"],
        [
            TALK_TITLE,
            "Ada Lovelace and Grace Hopper; Carol Shaw",
            "0.5",
            "2.5",
            "Which numbers matter.",
        ],
        ["Marketing in 2018: What to expect?", "Bob", "", "", ""],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            talks
                .get_cell_mut((c as u32 + 1, r as u32 + 1))
                .set_value(*value);
        }
    }
    talks.get_cell_mut("F1").set_value("Length");
    talks.get_cell_mut("F2").set_formula("D2-C2");
    for c in ["A1", "B1", "C1", "D1", "E1", "F1"] {
        talks.get_style_mut(c).get_font_mut().set_bold(true);
    }
    talks
        .get_style_mut("F2")
        .get_number_format_mut()
        .set_format_code("0.00");
    let speakers = book.new_sheet("Speakers").unwrap();
    for (r, (name, email)) in [
        ("Name", "Email"),
        ("Ada Lovelace", "ada@example.org"),
        ("Grace Hopper", "grace@example.org"),
    ]
    .iter()
    .enumerate()
    {
        speakers.get_cell_mut((1, r as u32 + 1)).set_value(*name);
        speakers.get_cell_mut((2, r as u32 + 1)).set_value(*email);
    }
    umya_spreadsheet::writer::xlsx::write(&book, path).unwrap();
}

/// Every cell of every sheet, as calamine reads it.
fn cells(path: &Path) -> Vec<(String, u32, u32, String)> {
    let mut book = open_workbook_auto(path).unwrap();
    let mut out = Vec::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).unwrap();
        for (r, c, v) in range.used_cells() {
            let (r0, c0) = range.start().unwrap();
            out.push((name.clone(), r0 + r as u32, c0 + c as u32, v.to_string()));
        }
    }
    out
}

fn formula(path: &Path, sheet: &str, row: u32, col: u32) -> Option<String> {
    let mut book = open_workbook_auto(path).unwrap();
    let range = book.worksheet_formula(sheet).unwrap();
    range.get_value((row, col)).cloned()
}

fn stdout(o: &std::process::Output) -> String {
    text(&o.stdout)
}

fn smtp_args(url: &str) -> Vec<String> {
    [
        "--smtp-url",
        url,
        "--mail-from",
        "Talks team <talks@example.org>",
        "--organiser",
        "org@example.org",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn args<'a>(base: &'a [&'a str], extra: &'a [String]) -> Vec<&'a str> {
    base.iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .collect()
}

/// Marks one delivery of the video as a crash between send and record leaves it.
fn leave_sending(out: &Path, to: &str) {
    let records = vidpipe_local::SqliteRecords::open(&out.join("vidpipe.db")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut record = records.all().unwrap().remove(0);
        let d = record
            .outbox
            .iter_mut()
            .find(|d| d.target().contains(to))
            .unwrap();
        assert_eq!(d.state, DeliveryState::Sent);
        d.state = DeliveryState::Sending;
        records.update(&record).await.unwrap();
    });
}

#[test]
fn an_xlsx_row_fills_the_video_each_speaker_gets_one_email_and_the_link_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (video, sheet, out) = (
        short_talk(dir.path()),
        dir.path().join("talks.xlsx"),
        dir.path().join("out"),
    );
    make_xlsx(&sheet);
    let before = cells(&sheet);
    let smtp = SmtpSink::start(&dir.path().join("mail"), free_port());
    let mail = smtp_args(&smtp.url());
    let sheet_args = ["--no-transcribe", "--sheet", sheet.to_str().unwrap()];
    let o = process(&out, &video, &args(&sheet_args, &mail));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let printed = stdout(&o);
    assert!(printed.contains(TALK_TITLE), "{printed}");
    assert!(
        printed.contains("\"Carol Shaw\" is not in the speaker sheet; not emailed"),
        "{printed}"
    );
    assert!(
        printed.contains("sent    Ada Lovelace <ada@example.org>"),
        "{printed}"
    );

    // The row filled the record: title, speakers with addresses, the clip.
    let record = record_of(&out, &format!("{TALK_FILE}.mp4"));
    assert_eq!(record["sidecar"]["title"], TALK_TITLE);
    assert_eq!(
        record["sidecar"]["speakers"][1]["email"],
        "grace@example.org"
    );
    assert_eq!(record["plan"]["clip"]["start_s"], 0.5);
    assert_eq!(record["talk"]["row_number"], 2);
    let link = record["links"][0].as_str().unwrap().to_string();

    // One email per speaker with an address, and the organiser's notice.
    let mut to = smtp.recipients();
    to.sort();
    assert_eq!(
        to,
        ["ada@example.org", "grace@example.org", "org@example.org"]
    );
    let ada = smtp.message_to("ada@example.org");
    assert!(ada.contains("Hello Ada Lovelace"), "{ada}");
    assert!(
        ada.contains("text/html") && ada.contains("text/plain"),
        "{ada}"
    );
    assert!(
        ada.contains("From: \"Talks team\" <talks@example.org>"),
        "{ada}"
    );

    // The link in a new Link column of row 2; every other cell, the formula and the
    // formats as they were.
    let after = cells(&sheet);
    let added: Vec<_> = after.iter().filter(|c| !before.contains(c)).collect();
    assert_eq!(
        added,
        [
            &("Talks".to_string(), 0, 6, "Link".to_string()),
            &("Talks".to_string(), 1, 6, link.clone())
        ]
    );
    assert!(
        before.iter().all(|c| after.contains(c)),
        "a cell changed or went"
    );
    assert_eq!(formula(&sheet, "Talks", 1, 5).as_deref(), Some("D2-C2"));
    let book = umya_spreadsheet::reader::xlsx::read(&sheet).unwrap();
    let talks = book.get_sheet_by_name("Talks").unwrap();
    assert!(*talks.get_style("A1").get_font().unwrap().get_bold());
    assert_eq!(
        talks
            .get_style("F2")
            .get_number_format()
            .unwrap()
            .get_format_code(),
        "0.00"
    );

    // The same upload again: nothing redone, nothing sent twice.
    let o = process(&out, &video, &args(&sheet_args, &mail));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(smtp.recipients().len(), 3);

    // A crash between sending Ada's email and recording it: sent once more, said so.
    leave_sending(&out, "ada@example.org");
    let o = vidpipe(&out, &args(&["publish", "--due"], &mail));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        stdout(&o).contains("Ada Lovelace <ada@example.org>: sent again"),
        "{}",
        stdout(&o)
    );
    let o = vidpipe(&out, &args(&["publish", "--due"], &mail));
    assert_eq!(stdout(&o).trim(), "nothing due");
    let ada_count = smtp
        .recipients()
        .iter()
        .filter(|t| *t == "ada@example.org")
        .count();
    assert_eq!(ada_count, 2);
}

/// A Talks sheet (bold header, a formula) in an ods workbook.
fn make_ods(path: &Path) {
    use spreadsheet_ods::{CellStyle, Sheet, ValueFormatRef, WorkBook};
    let mut book = WorkBook::new_empty();
    let mut bold = CellStyle::new("bold", &ValueFormatRef::from(""));
    bold.set_font_bold();
    let bold = book.add_cellstyle(bold);
    let mut sheet = Sheet::new("Talks");
    for (c, h) in ["Talk", "Speaker", "Start", "End", "Length"]
        .iter()
        .enumerate()
    {
        sheet.set_styled_value(0, c as u32, *h, &bold);
    }
    sheet.set_value(1, 0, TALK_TITLE);
    sheet.set_value(1, 1, "Ada Lovelace, Rita Refused");
    sheet.set_value(1, 2, 0.5);
    sheet.set_value(1, 3, 2.5);
    sheet.set_formula(1, 4, "of:=[.D2]-[.C2]");
    sheet.set_value(1, 4, 2.0);
    book.push_sheet(sheet);
    spreadsheet_ods::write_ods(&mut book, path).unwrap();
}

#[test]
fn a_locked_ods_and_a_mail_server_that_is_down_wait_for_publish_due_and_a_refused_address_is_recorded(
) {
    let dir = tempfile::tempdir().unwrap();
    let (video, sheet, out) = (
        short_talk(dir.path()),
        dir.path().join("talks.ods"),
        dir.path().join("out"),
    );
    make_ods(&sheet);
    let speakers = dir.path().join("speakers.csv");
    std::fs::write(
        &speakers,
        "Speaker;E-mail\nAda Lovelace;ada@example.org\nRita Refused;rita@refused.example\n",
    )
    .unwrap();
    let lock = dir.path().join(".~lock.talks.ods#");
    std::fs::write(
        &lock,
        ",someone,host,01.12.2026 10:00,file:///home/someone/.config/libreoffice/4;",
    )
    .unwrap();
    let port = free_port();
    let mail = smtp_args(&format!("smtp://127.0.0.1:{port}"));
    let sheet_args = [
        "--no-transcribe",
        "--sheet",
        sheet.to_str().unwrap(),
        "--speakers",
        speakers.to_str().unwrap(),
    ];
    let o = process(&out, &video, &args(&sheet_args, &mail));
    // The video is published; what could not be sent waits.
    assert!(o.status.success(), "{}", text(&o.stderr));
    let printed = stdout(&o);
    assert!(
        printed.contains("waiting Ada Lovelace <ada@example.org>"),
        "{printed}"
    );
    assert!(
        printed.contains("waiting the link to the talk sheet")
            && printed.contains("open in an office program"),
        "{printed}"
    );
    let before = cells(&sheet);

    // Still down: publish --due says so and fails.
    let o = vidpipe(&out, &args(&["publish", "--due"], &mail));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));

    std::fs::remove_file(&lock).unwrap();
    let smtp = SmtpSink::start(&dir.path().join("mail"), port);
    let o = vidpipe(&out, &args(&["publish", "--due"], &mail));
    let printed = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "a refusal is reported: {printed}");
    assert!(
        printed.contains("refused Rita Refused <rita@refused.example>") && printed.contains("550"),
        "{printed}"
    );
    let mut to = smtp.recipients();
    to.sort();
    assert_eq!(to, ["ada@example.org", "org@example.org"]);
    let record = record_of(&out, &format!("{TALK_FILE}.mp4"));
    assert_eq!(record["status"], "published");
    let rita = record["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["address"] == "rita@refused.example")
        .unwrap();
    assert_eq!(rita["state"], "failed");

    // The link is in the sheet; the rest as it was, formula included.
    let link = record["links"][0].as_str().unwrap().to_string();
    let after = cells(&sheet);
    assert!(after.contains(&("Talks".into(), 1, 5, link)), "{after:?}");
    assert!(
        before.iter().all(|c| after.contains(c)),
        "{before:?} → {after:?}"
    );
    assert_eq!(
        formula(&sheet, "Talks", 1, 4).as_deref(),
        Some("of:=[.D2]-[.C2]")
    );

    // Nothing left: the refusal is not retried.
    let o = vidpipe(&out, &args(&["publish", "--due"], &mail));
    assert!(o.status.success());
    assert_eq!(stdout(&o).trim(), "nothing due");
}

#[test]
fn a_csv_sheet_is_rewritten_whole_with_the_link_and_nothing_else_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (video, sheet, out) = (
        short_talk(dir.path()),
        dir.path().join("talks.csv"),
        dir.path().join("out"),
    );
    let original =
        format!("title,speakers,link,room\n{TALK_TITLE},Ada,,B1\nOther talk,Bob,https://x,B2\n");
    std::fs::write(&sheet, &original).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sheet, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = process(
        &out,
        &video,
        &["--no-transcribe", "--sheet", sheet.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let record = record_of(&out, &format!("{TALK_FILE}.mp4"));
    let link = record["links"][0].as_str().unwrap();
    let written = std::fs::read_to_string(&sheet).unwrap();
    let expected = original.replace(",Ada,,B1", &format!(",Ada,{link},B1"));
    assert_eq!(written, expected);
    let mode = std::fs::metadata(&sheet).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "the sheet keeps its permissions");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".vidpipe-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_sheets_are_refused_before_anything_is_processed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let video = short_talk(dir.path());
    let out = dir.path().join("out");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no-title.csv",
            b"speaker,room\nAda,B1\n".to_vec(),
            "no title column",
        ),
        (
            "twice.csv",
            format!(
                "title\n\"{TALK_TITLE}\"\n\"{}\"\n",
                TALK_TITLE.to_uppercase()
            )
            .into_bytes(),
            "matches more than one row: row 2",
        ),
        (
            "missing.csv",
            b"title\nKeynote\nMarketing in 2018\n".to_vec(),
            "no row for",
        ),
        (
            "talks.txt",
            b"title\n".to_vec(),
            "not a spreadsheet vidpipe reads",
        ),
        (
            "garbage.xlsx",
            b"this is not a zip file".to_vec(),
            "not a readable spreadsheet",
        ),
    ];
    for (name, bytes, reason) in cases {
        let sheet = dir.path().join(name);
        std::fs::write(&sheet, bytes).unwrap();
        let o = process(
            &out,
            &video,
            &["--no-transcribe", "--sheet", sheet.to_str().unwrap()],
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(reason) && err.contains(name), "{name}: {err}");
    }
    let o = process(
        &out,
        &video,
        &[
            "--no-transcribe",
            "--sheet",
            dir.path().join("missing.csv").to_str().unwrap(),
        ],
    );
    assert!(
        text(&o.stderr).contains("closest rows: row 3 \"Marketing in 2018\""),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.join("vidpipe.db").exists(), "nothing was processed");
}

#[test]
fn an_smtp_url_without_a_sender_or_with_a_bad_organiser_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let video = short_talk(dir.path());
    let out = dir.path().join("out");
    let o = process(
        &out,
        &video,
        &[
            "--no-transcribe",
            "--smtp-url",
            "smtp://user:s3cret@127.0.0.1:1",
        ],
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("needs a sender") && !err.contains("s3cret"),
        "{err}"
    );
    let o = process(&out, &video, &["--no-transcribe", "--organiser", "org@"]);
    assert!(
        text(&o.stderr).contains("\"org@\": not an email address"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn the_catalog_entry_gets_the_period_and_link_and_bad_catalogs_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let catalog = dir.path().join("catalog.json");
    std::fs::write(
        &catalog,
        "{\n  \"datasets\": [\n    {\"id\": \"pw\", \"name\": \"Precipitable water\"}\n  ]\n}\n",
    )
    .unwrap();
    let set = |id: &str, path: &Path| {
        vidpipe(
            &out,
            &[
                "catalog",
                "set",
                path.to_str().unwrap(),
                "--id",
                id,
                "--start",
                "2024-02-01",
                "--end",
                "2024-02-26T19:00Z",
                "--link",
                "https://vimeo.com/1",
            ],
        )
    };
    let o = set("pw", &catalog);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&catalog).unwrap()).unwrap();
    assert_eq!(
        v["datasets"][0],
        serde_json::json!({"id": "pw", "name": "Precipitable water", "startTime": "2024-02-01T00:00:00Z", "endTime": "2024-02-26T19:00:00Z", "dataLink": "https://vimeo.com/1"})
    );
    let o = set("sst", &catalog);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no dataset with id \"sst\" (ids there: pw)"),
        "{}",
        text(&o.stderr)
    );
    let not_json = dir.path().join("catalog.html");
    std::fs::write(&not_json, "<html></html>").unwrap();
    let o = set("pw", &not_json);
    assert!(
        text(&o.stderr).contains("not a JSON document"),
        "{}",
        text(&o.stderr)
    );
    let o = vidpipe(
        &out,
        &[
            "catalog",
            "set",
            catalog.to_str().unwrap(),
            "--id",
            "pw",
            "--end",
            "2024-02-26T19:00+02:00",
        ],
    );
    assert!(text(&o.stderr).contains("UTC"), "{}", text(&o.stderr));
}

#[test]
fn the_organiser_is_emailed_a_failure_with_its_stage_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("not a video.mp4");
    std::fs::write(&video, b"these bytes are not a container").unwrap();
    let smtp = SmtpSink::start(&dir.path().join("mail"), free_port());
    let mail = smtp_args(&smtp.url());
    let o = process(
        &dir.path().join("out"),
        &video,
        &args(&["--no-transcribe"], &mail),
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(smtp.recipients(), ["org@example.org"]);
    let notice = smtp.message_to("org@example.org");
    assert!(
        notice.contains("Subject: vidpipe: failed: not a video"),
        "{notice}"
    );
    assert!(
        notice.contains("failed in ingest") && notice.contains("not a readable media file"),
        "{notice}"
    );
}

#[test]
fn a_google_sheet_named_on_the_command_line_fills_the_video_and_gets_the_link() {
    use vidpipe_sheets::stub::GoogleStub;
    // wiremock serves from a thread of its own: the runtime only sets the stub up.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let talks = serde_json::json!([
        ["Title", "Speakers", "In", "Out"],
        [TALK_TITLE, "Ada Lovelace", "0.5", "2.5"]
    ]);
    let stub = runtime.block_on(GoogleStub::start(
        "1ConferenceTalks",
        &[("Programme", talks)],
    ));
    runtime.block_on(stub.expect_batch_update(serde_json::json!({
        "valueInputOption": "RAW",
        "data": [{"range": "'Programme'!E2"}, {"range": "'Programme'!E1", "values": [["Link"]]}]
    })));
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("service-account.json");
    std::fs::write(&key, stub.key_json()).unwrap();
    let (video, out) = (short_talk(dir.path()), dir.path().join("out"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_vidpipe"))
        .args([
            "--out",
            out.to_str().unwrap(),
            "process",
            video.to_str().unwrap(),
            "--no-transcribe",
        ])
        .args([
            "--sheet",
            "gsheet:1ConferenceTalks",
            "--google-key",
            key.to_str().unwrap(),
        ])
        .env("VIDPIPE_SHEETS_API", stub.server.uri())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let record = record_of(&out, &format!("{TALK_FILE}.mp4"));
    assert_eq!(record["sidecar"]["speakers"][0]["name"], "Ada Lovelace");
    assert_eq!(record["talk"]["sheet"], "gsheet:1ConferenceTalks");
    assert!(
        stdout(&o).contains("sent    the link to the talk sheet"),
        "{}",
        stdout(&o)
    );
    // The one batchUpdate the stub expects is checked here.
    runtime.block_on(stub.server.verify());
}

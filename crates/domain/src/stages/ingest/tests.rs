//! Ingest: repeats, replans, and each kind of bad upload or sidecar.

use crate::events::ObjectCreated;
use crate::fakes::*;
use crate::keys::{self, VideoId};
use crate::record::{Stage, StageStatus, VideoStatus};
use crate::stages::test_world::*;
use crate::stages::{IngestOptions, PipelineConfig};

#[tokio::test]
async fn a_changed_clip_replans_and_force_redoes() {
    let w = World::new();
    let event = w.upload("uploads/talk.mp4", b"v", Some(media(30.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let first = w
        .run_with(&transcoder, event.clone(), &IngestOptions::default())
        .await;
    let id = first.videos[0].clone();
    let cut = IngestOptions {
        clip: crate::plan::ClipRequest {
            start_s: Some(5.0),
            end_s: Some(15.0),
        },
        ..Default::default()
    };
    let second = w.run_with(&transcoder, event.clone(), &cut).await;
    assert_eq!(second.videos, vec![id.clone()]);
    assert_eq!(transcoder.submitted.lock().unwrap().len(), 2);
    assert_eq!(w.record(&id).plan.unwrap().clip.duration_s(), 10.0);
    let forced = IngestOptions { force: true, ..cut };
    w.run_with(&transcoder, event, &forced).await;
    assert_eq!(transcoder.submitted.lock().unwrap().len(), 3);
    assert_eq!(w.recorder.published_count(), 3);
}

async fn expect_ingest_failure(w: &World, event: ObjectCreated, needle: &str) -> VideoId {
    let transcoder = FakeTranscoder::new(&w.store);
    let report = w
        .run_with(&transcoder, event.clone(), &IngestOptions::default())
        .await;
    assert_eq!(
        report.ingest_failures.len(),
        1,
        "{needle}: {:?}",
        report.deliveries
    );
    let message = report.ingest_failures[0].to_string();
    let names_file =
        message.contains(&event.key) || message.contains(&keys::sidecar_key_for(&event.key));
    assert!(message.contains(needle) && names_file, "{message}");
    assert!(transcoder.submitted.lock().unwrap().is_empty());
    let failure = w.recorder.failures().pop().expect("a failure notification");
    let rec = w.record(&failure.0);
    assert_eq!(rec.status, VideoStatus::Failed);
    assert_eq!(rec.failure.as_ref().unwrap().stage, Stage::Ingest);
    assert!(rec.failure.unwrap().reason.contains(needle));
    // A repeated event records nothing new and tells nobody twice.
    let before = w.recorder.failures().len();
    w.run_with(&transcoder, event, &IngestOptions::default())
        .await;
    assert_eq!(w.recorder.failures().len(), before);
    failure.0
}

#[tokio::test]
async fn each_kind_of_bad_upload_fails_its_own_video_only() {
    let w = World::new();
    let good = w.upload("uploads/good.mp4", b"good", Some(media(10.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let good_id = w
        .run_with(&transcoder, good, &IngestOptions::default())
        .await
        .videos[0]
        .clone();

    let empty = w.upload("uploads/empty.mp4", b"", None);
    expect_ingest_failure(&w, empty, "empty (0 bytes)").await;
    let text = w.upload("uploads/notes.txt", b"hello", None);
    expect_ingest_failure(&w, text, "not a video or audio file (extension .txt)").await;
    let garbage = w.upload("uploads/garbage.mp4", b"not media at all", None);
    expect_ingest_failure(&w, garbage, "not a readable media file").await;
    let sneaky = w.upload("uploads/../secret.mp4", b"x", Some(media(10.0, true, true)));
    expect_ingest_failure(&w, sneaky, "'..' path segment").await;
    w.store.insert("uploads/badside.json", b"{\"title\": ");
    let badside = w.upload("uploads/badside.mp4", b"bs", Some(media(10.0, true, true)));
    expect_ingest_failure(&w, badside, "invalid JSON").await;
    w.store
        .insert("uploads/backwards.json", br#"{"start": 8, "end": 4}"#);
    let backwards = w.upload(
        "uploads/backwards.mp4",
        b"bw",
        Some(media(10.0, true, true)),
    );
    expect_ingest_failure(&w, backwards, "not before end").await;
    // Where to publish is checked before anything is transcoded.
    w.store
        .insert("uploads/tiktok.json", br#"{"publish": [{"to": "tiktok"}]}"#);
    let tiktok = w.upload("uploads/tiktok.mp4", b"tt", Some(media(10.0, true, true)));
    expect_ingest_failure(&w, tiktok, "publish[0]: unknown destination \"tiktok\"").await;
    w.store.insert(
        "uploads/vimeo.json",
        br#"{"publish": [{"to": "vimeo", "replace": "videos/12"}]}"#,
    );
    let vimeo = w.upload("uploads/vimeo.mp4", b"vm", Some(media(10.0, true, true)));
    expect_ingest_failure(&w, vimeo, "\"videos/12\" is not a Vimeo video").await;
    let missing = ObjectCreated {
        bucket: "mem".into(),
        key: "uploads/gone.mp4".into(),
        size_bytes: 5,
        etag: None,
        version_id: None,
    };
    expect_ingest_failure(&w, missing, "no such object").await;
    let small = PipelineConfig {
        max_upload_bytes: 3,
        ..PipelineConfig::default()
    };
    let w2 = World {
        config: small,
        ..World::new()
    };
    let big = w2.upload("uploads/big.mp4", b"four", Some(media(10.0, true, true)));
    expect_ingest_failure(&w2, big, "over the upload limit").await;

    // The good video is untouched by all of it.
    assert_eq!(w.record(&good_id).status, VideoStatus::Published);
}

#[tokio::test]
async fn a_fixed_sidecar_recovers_a_failed_video() {
    let w = World::new();
    w.store.insert("uploads/t.json", b"{oops");
    let event = w.upload("uploads/t.mp4", b"t", Some(media(10.0, true, true)));
    let id = expect_ingest_failure(&w, event.clone(), "invalid JSON").await;
    w.store.insert("uploads/t.json", br#"{"title":"Fixed"}"#);
    let transcoder = FakeTranscoder::new(&w.store);
    w.run_with(&transcoder, event, &IngestOptions::default())
        .await;
    let rec = w.record(&id);
    assert_eq!((rec.status, rec.failure), (VideoStatus::Published, None));
}

#[tokio::test]
async fn a_sidecar_arriving_after_its_video_replans_it_and_one_alone_waits() {
    let w = World::new();
    let event = w.upload("uploads/late.mp4", b"late", Some(media(30.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let id = w.run(&transcoder, event.clone()).await;
    assert_eq!(w.record(&id).title(), "late");

    let late = br#"{"title":"Late sidecar","start":5,"end":20}"#;
    let report = w
        .sidecar_arrives(&transcoder, &event, "uploads/late.json", late)
        .await;
    assert!(
        !report.videos.is_empty() && report.videos.iter().all(|v| *v == id),
        "the same video, not a new one: {:?}",
        report.videos
    );
    let rec = w.record(&id);
    assert_eq!(rec.title(), "Late sidecar");
    assert_eq!(rec.plan.as_ref().unwrap().clip.start_s, 5.0);
    assert_eq!(rec.status, VideoStatus::Published);

    // A sidecar with no video beside it is noted, and a broken one is refused.
    let alone = br#"{"title":"Alone"}"#;
    let report = w
        .sidecar_arrives(&transcoder, &event, "uploads/alone.json", alone)
        .await;
    assert!(report.videos.is_empty() && report.ingest_failures.is_empty());
    let report = w
        .sidecar_arrives(&transcoder, &event, "uploads/broken.json", b"{nope")
        .await;
    assert!(
        report.ingest_failures[0]
            .to_string()
            .contains("uploads/broken.json"),
        "{:?}",
        report.ingest_failures
    );
}

#[tokio::test]
async fn audio_only_and_silent_video_get_the_outputs_they_can() {
    let w = World::new();
    let podcast = w.upload(
        "uploads/podcast.wav",
        b"wav",
        Some(media(60.0, false, true)),
    );
    let transcoder = FakeTranscoder::new(&w.store);
    let (_, id) = w.run_to_published(&transcoder, podcast).await;
    let rec = w.record(&id);
    assert_eq!(rec.stage(Stage::Cover), StageStatus::Skipped);
    assert!(rec
        .outputs
        .iter()
        .all(|o| o.kind == crate::record::OutputKind::Mp3));

    let silent = w.upload(
        "uploads/silent.mp4",
        b"silent",
        Some(media(10.0, true, false)),
    );
    let (_, id) = w.run_to_published(&transcoder, silent).await;
    let rec = w.record(&id);
    assert_eq!(rec.stage(Stage::TranscribeStart).as_str(), "skipped");
    assert!(rec
        .outputs
        .iter()
        .all(|o| o.kind != crate::record::OutputKind::Mp3));
    assert!(rec.cover_key.is_some());
}

fn talk_match(title: &str) -> crate::stages::TalkMatch {
    let table = crate::talks::SheetTable {
        name: "Talks".into(),
        rows: vec![
            vec!["Title".into(), "Speakers".into(), "In".into()],
            vec![title.into(), "Ada, Bob".into(), "5".into()],
        ],
    };
    let row = crate::talks::find_row(&table, &[title]).unwrap();
    crate::stages::TalkMatch {
        reference: crate::talks::TalkRef {
            sheet: "gsheet:abc".into(),
            tab: "Talks".into(),
            row_number: 2,
            title: title.into(),
        },
        row,
        directory: crate::talks::SpeakerDirectory::default(),
    }
}

#[tokio::test]
async fn the_talk_row_fills_the_sidecar_and_a_sheet_error_fails_the_video_with_its_reason() {
    let w = World::new();
    w.store
        .insert("uploads/talk.json", br#"{"title":"Metrics","start":1}"#);
    let event = w.upload("uploads/talk.mp4", b"v", Some(media(30.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let options = IngestOptions {
        talk: Some(Ok(talk_match("Metrics"))),
        ..Default::default()
    };
    let report = w.run_with(&transcoder, event.clone(), &options).await;
    let rec = w.record(&report.videos[0]);
    let sidecar = rec.sidecar.unwrap();
    assert_eq!(sidecar.speakers.len(), 2);
    assert_eq!(
        sidecar.clip_s().unwrap().0,
        Some(1.0),
        "the sidecar's start wins"
    );
    assert_eq!(rec.talk.unwrap().row_number, 2);
    assert!(rec
        .plan
        .unwrap()
        .notes
        .iter()
        .any(|n| n.contains("\"Ada\" is not in the speaker sheet")));

    let w = World::new();
    let event = w.upload("uploads/other.mp4", b"w", Some(media(30.0, true, true)));
    let err = crate::talks::SheetError::NoRow {
        sheet: "gsheet:abc".into(),
        wanted: vec!["other.mp4".into()],
        closest: "row 2 \"Metrics\"".into(),
    };
    let options = IngestOptions {
        talk: Some(Err(err)),
        ..Default::default()
    };
    let report = w.run_with(&transcoder, event.clone(), &options).await;
    assert_eq!(report.ingest_failures.len(), 1);
    let failure = w.recorder.failures().pop().unwrap();
    assert!(
        failure.2.contains("talk sheet: gsheet:abc: no row for")
            && failure.2.contains("closest rows"),
        "{}",
        failure.2
    );
}

#[tokio::test]
async fn a_sheet_that_cannot_be_reached_now_is_delivered_again() {
    let w = World::new();
    let event = w.upload("uploads/talk.mp4", b"v", Some(media(30.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let options = IngestOptions {
        talk: Some(Err(crate::talks::SheetError::Unavailable {
            sheet: "gsheet:abc".into(),
            reason: "HTTP 429: Quota exceeded".into(),
        })),
        ..Default::default()
    };
    let report = w.run_with(&transcoder, event, &options).await;
    let ingest: Vec<_> = report
        .deliveries
        .iter()
        .filter(|d| d.stage == Stage::Ingest)
        .collect();
    assert!(ingest.len() > 1, "delivered again: {ingest:?}");
    let first = ingest[0].result.as_ref().unwrap_err();
    assert!(
        first.is_retryable() && first.to_string().contains("Quota exceeded"),
        "{first}"
    );
    assert!(transcoder.submitted.lock().unwrap().is_empty());
}

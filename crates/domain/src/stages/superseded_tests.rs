//! Plan generations: a sidecar that arrives after its video, at any point of the
//! chain, replans it as the next generation; the superseded generation's job is
//! cancelled and every late event of it is ignored, so the video is published once,
//! from the current plan's files only.

use crate::events::{JobOutcome, JobStateChange, ObjectCreated};
use crate::fakes::*;
use crate::keys::{PlanKeys, VideoId};
use crate::record::{Stage, StageStatus, VideoStatus};
use crate::stages::test_world::*;
use crate::stages::{self, Handled};

const SIDECAR: &[u8] = br#"{"title": "Monitoring models", "start": "00:00:02"}"#;

/// Where the chain is when the sidecar arrives.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Point {
    /// The renditions job is running.
    JobRunning,
    /// Its outputs are recorded; the cover and the transcript are not.
    JobComplete,
    /// The cover is chosen and the transcript stored; not yet published.
    PartsRecorded,
    /// Published.
    Published,
}

struct Stale {
    change: JobStateChange,
    audio_key: String,
    transcript_key: String,
    job_name: String,
}

/// Runs the talk up to `point` on generation 0; what its late events would be.
async fn run_to(w: &World, transcoder: &FakeTranscoder<'_>, id: &VideoId, point: Point) -> Stale {
    let first = w.record(id).keys();
    let change = if point == Point::JobRunning {
        // The superseded job writes its files anyway, before anyone cancels it.
        w.complete_change(transcoder, id)
    } else {
        w.complete_renditions(transcoder, id).await
    };
    if point >= Point::PartsRecorded {
        record_parts(w, transcoder, id).await;
    }
    if point == Point::Published {
        w.publish(id).await.unwrap();
        assert_eq!(w.record(id).status, VideoStatus::Published);
    }
    Stale {
        change,
        audio_key: first.audio_mp3(),
        transcript_key: first.transcript_json(),
        job_name: first.transcription_job_name(),
    }
}

/// The cover, the transcript and the promo clip, as their events would run them.
async fn record_parts(w: &World, transcoder: &FakeTranscoder<'_>, id: &VideoId) {
    w.cover(id).await.unwrap();
    assert!(w.run_transcription(id).await);
    let promo = stages::render_promo(&w.records, transcoder, &w.recorder, &[], id).await;
    assert!(matches!(promo, Ok(Handled::Done(_))), "{promo:?}");
}

/// Every late event of the superseded generation, each twice: all ignored.
async fn replay_stale(w: &World, id: &VideoId, stale: &Stale) {
    let error = JobStateChange {
        outcome: JobOutcome::Error {
            code: Some(1999),
            message: "superseded".into(),
        },
        ..stale.change.clone()
    };
    let transcriber = w.transcriber.as_ref().unwrap();
    for _ in 0..2 {
        for change in [&stale.change, &error] {
            let handled = w.job_state_changed(change).await.unwrap();
            assert!(matches!(handled, Handled::Skipped(..)), "{handled:?}");
        }
        let (store, records, recorder) = (&w.store, &w.records, &w.recorder);
        let started =
            stages::transcribe_start(store, records, transcriber, recorder, &stale.audio_key)
                .await
                .unwrap();
        assert!(matches!(started, Handled::Skipped(..)), "{started:?}");
        let understanding = &w.config.understanding;
        let key = &stale.transcript_key;
        let stored =
            stages::transcribe_store(store, records, recorder, recorder, understanding, key)
                .await
                .unwrap();
        assert!(matches!(stored, Handled::Skipped(..)), "{stored:?}");
        let failed = stages::transcription_failed(records, recorder, id, &stale.job_name, "late")
            .await
            .unwrap();
        assert!(matches!(failed, Handled::Skipped(..)), "{failed:?}");
    }
    let record = w.record(id);
    assert_eq!(
        record.status,
        VideoStatus::Processing,
        "{:?}",
        record.failure
    );
}

async fn sidecar_after_the_video_at(point: Point) {
    let w = speaking_world(FakeTranscriber::speaking(TALK, 3.5));
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let upload = w.upload("uploads/talk.mp4", b"v", Some(media(60.0, true, true)));
    let id = w.run(&transcoder, upload.clone()).await;
    let stale = run_to(&w, &transcoder, &id, point).await;

    // Ingest replans; the superseded job's events may come before the new job is
    // submitted (the record has no job id then) and after.
    w.store.insert("uploads/talk.json", SIDECAR);
    w.store.take_created();
    let sidecar = ObjectCreated {
        key: "uploads/talk.json".into(),
        ..upload.clone()
    };
    let (store, records, recorder) = (&w.store, &w.records, &w.recorder);
    let options = Default::default();
    let planned = stages::ingest(
        store, &w.prober, records, recorder, recorder, &w.config, &sidecar, &options,
    )
    .await
    .unwrap();
    assert!(matches!(planned, Handled::Planned(..)), "{planned:?}");
    replay_stale(&w, &id, &stale).await;
    let submitted = stages::transcode(records, &transcoder, recorder, recorder, &id)
        .await
        .unwrap();
    assert_eq!(submitted, Handled::Done(id.clone()));
    let record = w.record(&id);
    let current = PlanKeys::new(&id, 1);
    assert_eq!(record.keys(), current, "{point:?}");
    assert_eq!(record.title(), "Monitoring models");
    let submitted = transcoder.submitted.lock().unwrap().clone();
    assert_eq!(submitted.len(), 2, "{point:?}");
    assert_eq!(submitted[1].generation, 1);
    let cancelled = transcoder.cancelled.lock().unwrap().clone();
    let running = point == Point::JobRunning;
    let want: Vec<String> = running
        .then(|| stale.change.job_id.clone())
        .into_iter()
        .collect();
    assert_eq!(
        cancelled, want,
        "{point:?}: only a job that may run is cancelled"
    );
    assert!(record.superseded_jobs.is_empty());

    replay_stale(&w, &id, &stale).await;

    // The current generation runs to the end, once.
    let published_before = w.recorder.published_count();
    let change = w.complete_renditions(&transcoder, &id).await;
    assert_eq!(change.generation, 1);
    record_parts(&w, &transcoder, &id).await;
    replay_stale(&w, &id, &stale).await;
    w.publish(&id).await.unwrap();
    let record = w.record(&id);
    assert_eq!(record.status, VideoStatus::Published, "{point:?}");
    assert_eq!(w.recorder.published_count(), published_before + 1);
    for output in &record.outputs {
        assert!(
            output.key.starts_with(&current.media_dir()),
            "{point:?}: {}",
            output.key
        );
    }
    assert_eq!(record.cover_key, Some(current.cover()));
    let speech = record.speech.unwrap();
    assert_eq!(speech.transcript_key, current.transcript_json());
    let calls = w.transcriber_calls();
    assert_eq!(calls.last(), Some(&current.audio_mp3()), "{calls:?}");
    assert!(calls.iter().filter(|c| **c == current.audio_mp3()).count() == 1);
}

#[tokio::test]
async fn a_sidecar_while_the_job_runs_cancels_it_and_its_late_events_are_ignored() {
    sidecar_after_the_video_at(Point::JobRunning).await;
}

#[tokio::test]
async fn a_sidecar_after_the_job_completed_replans_on_a_new_generation() {
    sidecar_after_the_video_at(Point::JobComplete).await;
}

#[tokio::test]
async fn a_sidecar_after_the_cover_and_transcript_replans_on_a_new_generation() {
    sidecar_after_the_video_at(Point::PartsRecorded).await;
}

#[tokio::test]
async fn a_sidecar_after_publishing_replans_on_a_new_generation() {
    sidecar_after_the_video_at(Point::Published).await;
}

#[tokio::test]
async fn the_same_sidecar_again_makes_no_new_generation() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let upload = w.upload("uploads/talk.mp4", b"v", Some(media(30.0, true, true)));
    let id = w.run(&transcoder, upload.clone()).await;
    let mut versions = Vec::new();
    for _ in 0..3 {
        let sidecar = ObjectCreated {
            key: "uploads/talk.json".into(),
            ..upload.clone()
        };
        w.store.insert(&sidecar.key, SIDECAR);
        w.store.take_created();
        w.run_with(&transcoder, sidecar, &Default::default()).await;
        versions.push(w.record(&id).version);
    }
    let record = w.record(&id);
    assert_eq!(record.generation, 1);
    assert_eq!(transcoder.submitted.lock().unwrap().len(), 2);
    assert_eq!(record.stage(Stage::Transcode), StageStatus::Running);
    assert_eq!(versions[1], versions[0], "{versions:?}");
    assert_eq!(versions[2], versions[0], "{versions:?}");
}

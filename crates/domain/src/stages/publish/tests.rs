//! Publish: the whole chain published once, and waiting for every part.

use crate::events::PipelineMessage;
use crate::fakes::*;
use crate::keys;
use crate::record::{Stage, StageStatus};
use crate::stages::test_world::*;
use crate::stages::{self, IngestOptions};

#[tokio::test]
async fn an_upload_runs_the_whole_chain_once() {
    let w = World::new();
    w.store.insert(
        "uploads/talk.json",
        br#"{"title":"Metrics","speakers":[{"name":"Ada","email":"ada@x.org"}]}"#,
    );
    let event = w.upload(
        "uploads/talk.mp4",
        b"video-bytes",
        Some(media(20.0, true, true)),
    );
    let mut transcoder = FakeTranscoder::new(&w.store);
    transcoder.frame_fill = dark_first_frames;
    let (report, id) = w.run_to_published(&transcoder, event.clone()).await;
    let rec = w.record(&id);
    assert_eq!(rec.stage(Stage::TranscribeStart), StageStatus::Skipped);
    let count = |kind| rec.outputs.iter().filter(|o| o.kind == kind).count();
    // The progressive MP4 of the top rung; every rung in the HLS ladder.
    assert_eq!(count(crate::record::OutputKind::Rendition), 1);
    assert_eq!(count(crate::record::OutputKind::HlsVariant), 3);
    // The cover is the best frame outside the fades and not one of the dark ones.
    let cover_frame = rec
        .frames
        .iter()
        .filter(|f| f.rejected.is_none())
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .unwrap();
    assert!(cover_frame.time_s >= 3.0 && cover_frame.time_s <= 17.0);
    let objects = w.store.objects.lock().unwrap().clone();
    assert_eq!(
        objects.get(&keys::PlanKeys::new(&id, 0).cover()),
        objects.get(&cover_frame.key)
    );
    assert!(rec
        .frames
        .iter()
        .filter(|f| keys::frame_capture_index(&f.key).unwrap() < 3)
        .all(|f| f.rejected.is_some()));
    assert_eq!(rec.title(), "Metrics");
    assert!(w
        .store
        .keys()
        .contains(&keys::PlanKeys::new(&id, 0).manifest()));
    assert_eq!(w.recorder.published_count(), 1);
    assert_eq!(w.recorder.notified_published.lock().unwrap().len(), 1);
    // One publish although the transcode and the cover both announced their part.
    let publishes = report
        .deliveries
        .iter()
        .filter(|d| d.stage == Stage::Publish)
        .count();
    assert_eq!(publishes, 2);

    // The same event again: same id, no second job, no second publish.
    let again = w
        .run_with(&transcoder, event, &IngestOptions::default())
        .await;
    assert_eq!(again.videos, vec![id.clone()]);
    assert_eq!(transcoder.submitted.lock().unwrap().len(), 1);
    assert_eq!(w.recorder.published_count(), 1);
    assert_eq!(w.record(&id).version, rec.version);
}

#[tokio::test]
async fn publish_waits_for_every_part_and_wins_once() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    let waiting = w.publish(&id).await.unwrap();
    assert_eq!(
        waiting,
        stages::Handled::Waiting(id.clone(), vec![Stage::Transcode, Stage::Cover])
    );
    let complete = w.complete_renditions(&transcoder, &id).await;
    // Duplicate COMPLETE: recorded once; what follows it is sent again (the first
    // delivery may have failed to send it), and is idempotent.
    let version = w.record(&id).version;
    w.job_state_changed(&complete).await.unwrap();
    assert_eq!(w.record(&id).version, version);
    for _ in 0..2 {
        w.cover(&id).await.unwrap();
    }
    let messages = w.recorder.take_messages();
    let count = |f: fn(&PipelineMessage) -> bool| messages.iter().filter(|m| f(m)).count();
    assert_eq!(
        count(|m| matches!(m, PipelineMessage::CoverRequested { .. })),
        2,
        "{messages:?}"
    );
    let parts = count(|m| matches!(m, PipelineMessage::PartRecorded { .. }));
    assert_eq!(parts, 3, "transcode twice, cover once: {messages:?}");
    for _ in 0..3 {
        w.publish(&id).await.unwrap();
    }
    assert_eq!(w.recorder.published_count(), 1);
    assert_eq!(w.record(&id).links, vec![format!("mem://{id}")]);
}

//! The reconciler: stuck videos failed with a notice, lost or expired work driven
//! again, fresh work left alone.

use crate::events::PipelineMessage;
use crate::fakes::*;
use crate::keys::VideoId;
use crate::record::{now_unix_s, Lease, Stage, StageStatus, VideoStatus};
use crate::stages::test_world::*;
use crate::stages::{reconcile, Handled, ReconcileConfig, Reconciled};

/// Moves the video's last change `seconds` into the past.
fn idle_for(w: &World, id: &VideoId, seconds: u64) {
    let mut rows = w.records.rows.lock().unwrap();
    let record = rows.get_mut(id).unwrap();
    record.updated_at_unix_s = now_unix_s() - seconds;
}

async fn run(w: &World) -> Vec<Reconciled> {
    let config = ReconcileConfig::default();
    reconcile(&w.records, &w.recorder, &w.recorder, &config, now_unix_s())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_video_without_progress_past_the_deadline_is_failed_with_a_notice() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    // The job's state change never comes. Before the deadline: left alone.
    idle_for(&w, &id, 11 * 3600);
    assert_eq!(run(&w).await, []);
    assert_eq!(w.record(&id).status, VideoStatus::Processing);
    idle_for(&w, &id, 13 * 3600);
    let done = run(&w).await;
    let [Reconciled::Failed(failed, Stage::Transcode, reason)] = done.as_slice() else {
        panic!("{done:?}");
    };
    assert_eq!(failed, &id);
    assert!(reason.contains("no progress for 13:00:00"), "{reason}");
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Failed);
    assert_eq!(rec.failure.unwrap().reason, *reason);
    let notices = w.recorder.notified_failed.lock().unwrap().clone();
    assert_eq!(notices, [(id.clone(), Stage::Transcode, reason.clone())]);
    // A failed video is not looked at again.
    assert_eq!(run(&w).await, []);
}

#[tokio::test]
async fn a_claim_whose_lease_expired_is_driven_again_and_then_finishes() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    w.complete_renditions(&transcoder, &id).await;
    w.recorder.take_messages();
    // The cover stage's invocation holds its claim; then it dies.
    let hold = |expires_unix_s| {
        let mut rows = w.records.rows.lock().unwrap();
        let holder = "rekognition (died)".to_string();
        let lease = Lease {
            holder,
            expires_unix_s,
        };
        rows.get_mut(&id).unwrap().claim_stage(Stage::Cover, lease);
    };
    hold(now_unix_s() + 600);
    assert_eq!(run(&w).await, [], "a live lease is left alone");
    hold(now_unix_s() - 1);
    assert_eq!(
        run(&w).await,
        [Reconciled::Driven(id.clone(), Stage::Cover)]
    );
    let sent = w.recorder.take_messages();
    assert_eq!(
        sent,
        [PipelineMessage::CoverRequested {
            video_id: id.clone()
        }]
    );
    assert_eq!(w.cover(&id).await.unwrap(), Handled::Done(id.clone()));
    assert_eq!(w.record(&id).stage(Stage::Cover), StageStatus::Done);
}

#[tokio::test]
async fn a_lost_part_recorded_is_sent_again_once_the_parts_are_settled() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    w.complete_renditions(&transcoder, &id).await;
    w.cover(&id).await.unwrap();
    w.recorder.take_messages();
    // Every part is settled, and the messages to publish were lost.
    assert_eq!(
        run(&w).await,
        [],
        "within a lease's time: the message may be on its way"
    );
    idle_for(&w, &id, 20 * 60);
    assert_eq!(
        run(&w).await,
        [Reconciled::Driven(id.clone(), Stage::Publish)]
    );
    assert!(matches!(
        w.recorder.take_messages().as_slice(),
        [PipelineMessage::PartRecorded { .. }]
    ));
    w.publish(&id).await.unwrap();
    assert_eq!(w.record(&id).status, VideoStatus::Published);
    assert_eq!(run(&w).await, []);
}

#[tokio::test]
async fn a_deferred_destination_is_not_stuck_and_is_driven_again_when_due() {
    use crate::destinations::state::DestinationState;
    let mut w = World::new();
    w.config.publish =
        crate::destinations::parse_destinations(&serde_json::json!([{"to": "youtube"}])).unwrap();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    w.complete_renditions(&transcoder, &id).await;
    w.cover(&id).await.unwrap();
    w.publish(&id).await.unwrap();
    w.recorder.take_messages();
    assert_eq!(w.record(&id).stage(Stage::Publish), StageStatus::Running);
    // YouTube's quota is spent until tomorrow; a day without a change is not stuck.
    let now = now_unix_s();
    let defer = |until: i64| {
        let mut rows = w.records.rows.lock().unwrap();
        let r = rows.get_mut(&id).unwrap();
        r.destinations[0].state = DestinationState::Deferred {
            until_unix_s: until,
            reason: "quota".into(),
            resume: Box::new(DestinationState::Pending),
        };
        r.updated_at_unix_s = now - 30 * 3600;
    };
    defer(now as i64 + 3600);
    assert_eq!(run(&w).await, []);
    assert_eq!(w.record(&id).status, VideoStatus::Processing);
    assert!(w.recorder.take_messages().is_empty());
    // Its time has come: publishing is driven again.
    defer(now as i64 - 1);
    assert_eq!(
        run(&w).await,
        [Reconciled::Driven(id.clone(), Stage::Publish)]
    );
    assert!(matches!(
        w.recorder.take_messages().as_slice(),
        [PipelineMessage::PartRecorded {
            stage: Stage::Publish,
            ..
        }]
    ));
}

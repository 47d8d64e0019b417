//! The reconcile function on moto (DynamoDB Scan, SQS, SNS) with the real SDK
//! clients: a video stuck past the deadline is failed with its reason, a stage whose
//! claim's lease expired is driven again, and fresh work is left alone.

mod common;

use common::*;
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{now_unix_s, Lease, Stage, StageStatus, VideoRecord, VideoStatus};

/// A processing video whose transcode is running, last changed `idle_s` ago.
fn video(hex: &str, idle_s: u64) -> VideoRecord {
    let id = VideoId::parse(&hex.repeat(16)).unwrap();
    let mut record = VideoRecord::new(id, "uploads/talk.mp4", "talk.mp4");
    record.set_stage(Stage::Ingest, StageStatus::Done, None);
    record.set_stage(Stage::Transcode, StageStatus::Running, None);
    record.updated_at_unix_s = now_unix_s() - idle_s;
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_run_fails_stuck_videos_and_drives_expired_claims() {
    let w = World::new(&[("VIDPIPE_STUCK_AFTER_S", "3600")]).await;
    let f = &w.function;
    let stuck = video("a", 2 * 3600);
    let fresh = video("b", 60);
    let mut dropped = video("c", 20 * 60);
    dropped.set_stage(Stage::Transcode, StageStatus::Done, None);
    let lease = Lease {
        holder: "rekognition (2026/12/02/[$LATEST]0f)".into(),
        expires_unix_s: now_unix_s() - 5,
    };
    dropped.claim_stage(Stage::Cover, lease);
    let mut published = video("d", 5 * 3600);
    published.status = VideoStatus::Published;
    for r in [&stuck, &fresh, &dropped, &published] {
        f.records.create(r).await.unwrap();
    }

    let answer = vidpipe_aws::reconcile::run(f).await.unwrap();
    let failed = answer["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{answer}");
    assert!(failed[0]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}: failed in transcode", stuck.id)));
    assert_eq!(
        answer["driven"],
        serde_json::json!([format!("{}: cover driven again", dropped.id)])
    );
    let rec = f.records.get(&stuck.id).await.unwrap().unwrap();
    assert_eq!(rec.status, VideoStatus::Failed);
    let reason = rec.failure.unwrap().reason;
    assert!(reason.contains("no progress for 02:00:00"), "{reason}");
    for id in [&fresh.id, &dropped.id] {
        let rec = f.records.get(id).await.unwrap().unwrap();
        assert_eq!(rec.status, VideoStatus::Processing, "{id}");
    }
    let cover = w.drain("rekognition").await;
    assert_eq!(cover.records.len(), 1);
    let body: serde_json::Value =
        serde_json::from_str(cover.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"type": "cover-requested", "video_id": dropped.id})
    );
    // Nothing is done twice: the failed video is settled, the cover's request sent.
    let again = vidpipe_aws::reconcile::run(f).await.unwrap();
    assert_eq!(again["failed"], serde_json::json!([]));
}

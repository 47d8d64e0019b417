//! The promo clip: publishing waits for it, and goes on without it when it fails.

use crate::error::PortError;
use crate::fakes::*;
use crate::record::{Stage, StageStatus, VideoStatus};
use crate::stages;
use crate::stages::test_world::*;

#[tokio::test]
async fn publishing_waits_for_the_promo_and_a_failed_promo_does_not_block_it() {
    let w = speaking_world(FakeTranscriber::speaking(TALK, 3.5));
    // The renditions job waits, like MediaConvert; the promo job will fail.
    let mut transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 60.0).await;
    w.complete_renditions(&transcoder, &id).await;
    w.cover(&id).await.unwrap();
    let audio = w.run_transcription(&id).await;
    assert!(audio, "transcribed");
    let rec = w.record(&id);
    assert_eq!(
        rec.promo_render.as_ref().unwrap().status,
        StageStatus::Pending
    );
    let waiting = w.publish(&id).await.unwrap();
    assert_eq!(
        waiting,
        stages::Handled::Waiting(id.clone(), vec![Stage::Transcode])
    );
    // The promo job fails: recorded, and publishing goes on.
    transcoder.fail_with = Some(PortError::Failed("no such filter".into()));
    stages::render_promo(&w.records, &transcoder, &w.recorder, &id)
        .await
        .unwrap();
    let rec = w.record(&id);
    let promo = rec.promo_render.unwrap();
    assert_eq!(promo.status, StageStatus::Failed);
    assert!(promo.detail.unwrap().contains("no such filter"));
    w.publish(&id).await.unwrap();
    assert_eq!(w.record(&id).status, VideoStatus::Published);
    // A repeated promo request after that changes nothing.
    let again = stages::render_promo(&w.records, &transcoder, &w.recorder, &id)
        .await
        .unwrap();
    assert!(matches!(again, stages::Handled::Skipped(..)));
}

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
    let id = covered_talk(&w, &transcoder).await;
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
    stages::render_promo(&w.records, &transcoder, &w.recorder, &[], &id)
        .await
        .unwrap();
    let rec = w.record(&id);
    let promo = rec.promo_render.unwrap();
    assert_eq!(promo.status, StageStatus::Failed);
    assert!(promo.detail.unwrap().contains("no such filter"));
    w.publish(&id).await.unwrap();
    assert_eq!(w.record(&id).status, VideoStatus::Published);
    // A repeated promo request after that changes nothing.
    let again = stages::render_promo(&w.records, &transcoder, &w.recorder, &[], &id)
        .await
        .unwrap();
    assert!(matches!(again, stages::Handled::Skipped(..)));
}

#[tokio::test]
async fn the_vertical_cut_is_asked_for_by_a_destination_and_centred_on_the_cover_s_faces() {
    use crate::destinations::vertical::FaceBox;
    let w = speaking_world(FakeTranscriber::speaking(TALK, 3.5));
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = covered_talk(&w, &transcoder).await;
    // What the cloud's cover stage records: a face on the right of the cover's frame.
    // And the sidecar asks YouTube for the vertical cut.
    let face = FaceBox {
        left: 0.70,
        top: 0.2,
        width: 0.08,
        height: 0.15,
    };
    {
        let mut rows = w.records.rows.lock().unwrap();
        let rec = rows.get_mut(&id).unwrap();
        let cover = crate::cover::choose_cover(&rec.frames).unwrap();
        rec.frames[cover].faces = vec![face];
        let publish = serde_json::json!([{"to": "youtube", "vertical": true}]);
        let mut sidecar = rec.sidecar.clone().unwrap_or_default();
        sidecar.publish = Some(crate::destinations::parse_destinations(&publish).unwrap());
        rec.sidecar = Some(sidecar);
    }
    assert!(w.run_transcription(&id).await);
    stages::render_promo(&w.records, &transcoder, &w.recorder, &[], &id)
        .await
        .unwrap();
    let promos = transcoder.promos.lock().unwrap().clone();
    assert_eq!(promos.len(), 1);
    let crop = promos[0].vertical.expect("a vertical cut");
    let top = promos[0].plan.renditions[0].clone();
    let (x, _, width, _) = crop.pixels(top.width_px, top.height_px);
    let face_mid = (0.74 * top.width_px as f64) as u32;
    assert!(
        x < face_mid && face_mid < x + width,
        "{x} {width} {face_mid}"
    );
    assert!(x > top.width_px / 2, "right of the centre: {x}");
    // Both clips are recorded as the promo's outputs.
    let names: Vec<_> = w
        .record(&id)
        .outputs
        .iter()
        .filter(|o| o.kind == crate::record::OutputKind::Promo)
        .map(|o| o.name.clone())
        .collect();
    assert_eq!(names, [None, Some("vertical".to_string())]);
}

#[tokio::test]
async fn without_a_destination_asking_there_is_no_vertical_cut() {
    let w = speaking_world(FakeTranscriber::speaking(TALK, 3.5));
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = covered_talk(&w, &transcoder).await;
    assert!(w.run_transcription(&id).await);
    stages::render_promo(&w.records, &transcoder, &w.recorder, &[], &id)
        .await
        .unwrap();
    let promos = transcoder.promos.lock().unwrap().clone();
    assert_eq!(promos.len(), 1);
    assert_eq!(promos[0].vertical, None);
}

/// A 60 s talk with its renditions and cover recorded: its id.
async fn covered_talk(w: &World, transcoder: &FakeTranscoder<'_>) -> crate::keys::VideoId {
    let id = w.submitted_talk(transcoder, 60.0).await;
    w.complete_renditions(transcoder, &id).await;
    w.cover(&id).await.unwrap();
    id
}

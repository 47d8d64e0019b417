//! Throttling on moto with the real SDK clients: MediaConvert answering 429
//! `TooManyRequestsException` more often than SQS's `maxReceiveCount` would allow,
//! and Rekognition refusing DetectFaces for its rate. Each throttled record goes back
//! on its function's queue with a growing delay, the claim is given back, and the
//! video is published once, never failed.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use vidpipe_aws::requeue::{deferrals, Requeue, DEFERRALS_ATTRIBUTE};
use vidpipe_domain::dispatch::MAX_RECEIVE_COUNT;
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::record::{Stage, StageStatus, VideoStatus};

/// Runs `function` on its queue until it is empty, waiting for delayed copies: the
/// deferral counts the copies carried, in order.
async fn run_until_settled(w: &World, fns: &Functions<'_>, function: &str) -> Vec<u32> {
    let mut deferrals = Vec::new();
    for _ in 0..200 {
        let event = w.drain(function).await;
        if event.records.is_empty() {
            if deferrals_pending(w, function).await == 0 {
                return deferrals;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        for m in &event.records {
            if let Some(n) = m.message_attributes.get(DEFERRALS_ATTRIBUTE) {
                deferrals.push(n.string_value.as_deref().unwrap().parse().unwrap());
            }
        }
        let r = fns.handle(function, event).await;
        assert_eq!(
            failures(&r),
            Vec::<String>::new(),
            "{function}: never reported"
        );
    }
    panic!("{function} did not settle: {deferrals:?}");
}

/// Messages on `function`'s queue that are not yet visible (delayed copies).
async fn deferrals_pending(w: &World, function: &str) -> usize {
    let attributes = w
        .sqs
        .get_queue_attributes()
        .queue_url(&w.queue_urls[function])
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    attributes
        .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_calls_go_back_delayed_and_never_fail_the_video() {
    // Deferrals without a wait, here: how long each waits is checked below.
    let w = World::new(&[("VIDPIPE_THROTTLE_DELAY_S", "0")]).await;
    // The SDK tries each call 3 times (its standard retry mode): 3 × 6 refusals make
    // six deferrals, one more than SQS would deliver the same message.
    let throttled = 3 * (MAX_RECEIVE_COUNT as usize + 1);
    let mediaconvert = mediaconvert_stub_throttling(throttled);
    let refused_faces = AtomicUsize::new(0);
    let faces = Stub::start(move |_| {
        if refused_faces.fetch_add(1, Ordering::SeqCst) < 12 {
            let refusal = serde_json::json!({
                "__type": "ProvisionedThroughputExceededException",
                "Message": "Provisioned rate exceeded"
            });
            return (400, refusal.to_string());
        }
        (200, serde_json::json!({"FaceDetails": []}).to_string())
    });
    let fns = Functions::new(&w, &mediaconvert, Some(&faces)).await;

    w.put("uploads/talk.mp4", make_mp4(8, false)).await;
    assert!(run_until_settled(&w, &fns, "ingest").await.is_empty());
    let deferrals = run_until_settled(&w, &fns, "transcode").await;
    assert_eq!(deferrals, (1..=MAX_RECEIVE_COUNT + 1).collect::<Vec<_>>());
    let bodies = mediaconvert.bodies();
    let created: Vec<_> = bodies[throttled..]
        .iter()
        .map(|b| b["userMetadata"]["job"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(created, ["renditions", "gif"], "one job of each kind");
    let job = &bodies[throttled];
    let id = VideoId::parse(job["userMetadata"]["video_id"].as_str().unwrap()).unwrap();
    let rec = record(&w, &id).await;
    assert_eq!(rec.status, VideoStatus::Processing, "{:?}", rec.failure);
    assert_eq!(rec.stage(Stage::Transcode), StageStatus::Running);

    let token = job["clientRequestToken"].as_str().unwrap();
    let complete = complete_job(&w, job, &format!("job-{}", &token[token.len() - 16..])).await;
    let r = fns.handle("transcode", sqs_event(&[complete])).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    let cover_deferrals = run_until_settled(&w, &fns, "rekognition").await;
    assert!(!cover_deferrals.is_empty(), "DetectFaces was throttled");
    let rec = record(&w, &id).await;
    assert_eq!(
        rec.stage(Stage::Cover),
        StageStatus::Done,
        "{:?}",
        rec.failure
    );
    assert_eq!(rec.status, VideoStatus::Processing);
    // Each deferral's copy on the function's own queue is in its policy.
    let checked = fns.check_policies("template.yaml");
    let report = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{report}");
    assert!(report.contains(", 0 refused"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_copy_waits_its_delay_and_counts_its_deferrals() {
    let w = World::new(&[]).await;
    let requeue = Requeue {
        sqs: &w.sqs,
        queue_url: &w.queue_urls["transcode"],
        base_delay_s: 1,
    };
    let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
    message.message_id = Some("m-1".into());
    message.body =
        Some(r#"{"type": "transcode-requested", "video_id": "0123456789abcdef"}"#.into());
    assert_eq!(requeue.defer(&message).await, Ok(1));
    assert!(
        w.drain("transcode").await.records.is_empty(),
        "not before its delay"
    );
    assert_eq!(deferrals_pending(&w, "transcode").await, 1);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let event = w.drain("transcode").await;
    assert_eq!(event.records.len(), 1);
    let copy = &event.records[0];
    assert_eq!(copy.body, message.body);
    assert_eq!(deferrals(copy), 1);
    // The next deferral of the copy waits twice as long.
    assert_eq!(requeue.delay_s(deferrals(copy) + 1, ""), 2);
}

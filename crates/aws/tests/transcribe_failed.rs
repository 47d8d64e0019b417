//! A transcription job that fails: Amazon Transcribe writes no transcript, so its
//! EventBridge state change (FAILED) is what transcribe-store hears, and the failure,
//! with Transcribe's own reason, is recorded on the video. Transcribe on an HTTP stub
//! (moto's never fails a job), answering GetTranscriptionJob in its documented shape;
//! everything else on moto.

mod common;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use common::*;
use serde_json::json;
use vidpipe_aws::handlers::{self, Around};
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{Stage, StageStatus, VideoRecord, VideoStatus};

const REASON: &str = "The media format that you specified doesn't match the detected media format.";

fn state_change(job_name: &str, status: &str) -> SqsEvent {
    let body = json!({
        "version": "0", "id": "e-7", "detail-type": "Transcribe Job State Change",
        "source": "aws.transcribe", "account": "123456789012", "time": "2026-12-02T10:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"TranscriptionJobName": job_name, "TranscriptionJobStatus": status}
    });
    let mut message = SqsMessage::default();
    message.message_id = Some(format!("m-{status}"));
    message.body = Some(body.to_string());
    let mut event = SqsEvent::default();
    event.records = vec![message];
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transcription_job_fails_the_video_with_transcribes_reason() {
    let w = World::new(&[]).await;
    let f = &w.function;
    let transcribe = Stub::start(|r| {
        let asked = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap_or_default();
        let name = asked["TranscriptionJobName"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let job = json!({"TranscriptionJob": {
            "TranscriptionJobName": name, "TranscriptionJobStatus": "FAILED",
            "LanguageCode": "en-US", "FailureReason": REASON
        }});
        (200, job.to_string())
    });
    let transcribe_sdk = sdk_config(&transcribe.endpoint).await;
    let around = Around {
        sdk: &transcribe_sdk,
        ..f.around()
    };
    let id = VideoId::parse("0123456789abcdef").unwrap();
    f.records
        .create(&VideoRecord::new(
            id.clone(),
            "uploads/talk.mp4",
            "talk.mp4",
        ))
        .await
        .unwrap();
    let adapters = f.adapters();
    let handle = |event| {
        let config = &f.config.pipeline;
        handlers::handle(
            Stage::TranscribeStore,
            &adapters,
            &f.bus,
            config,
            around,
            event,
        )
    };

    // Another state, or a job that is not vidpipe's: nothing asked, nothing changed.
    for event in [
        state_change(&format!("vidpipe-{id}"), "COMPLETED"),
        state_change("someone-elses-job", "FAILED"),
    ] {
        assert!(handle(event).await.batch_item_failures.is_empty());
    }
    assert!(transcribe.requests.lock().unwrap().is_empty());
    assert_eq!(
        f.records.get(&id).await.unwrap().unwrap().status,
        VideoStatus::Processing
    );

    let response = handle(state_change(&format!("vidpipe-{id}"), "FAILED")).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "settled: the failure is recorded"
    );
    let asked = transcribe.requests.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].headers.get("x-amz-target").map(String::as_str),
        Some("Transcribe.GetTranscriptionJob")
    );
    let record = f.records.get(&id).await.unwrap().unwrap();
    assert_eq!(record.status, VideoStatus::Failed);
    assert_eq!(record.stage(Stage::TranscribeStore), StageStatus::Failed);
    let failure = record.failure.unwrap();
    assert_eq!(failure.stage, Stage::TranscribeStore);
    assert!(failure.reason.contains(REASON), "{}", failure.reason);
    assert!(
        failure.reason.contains(&format!("vidpipe-{id}")),
        "{}",
        failure.reason
    );
}

//! Transcode: job errors, claims given back, the GIF's own job.

use crate::error::PortError;
use crate::events::{JobKind, JobOutcome, JobStateChange};
use crate::fakes::*;
use crate::keys;
use crate::record::{Stage, StageStatus, VideoStatus};
use crate::stages::test_world::*;
use crate::stages::{self, IngestOptions};

#[tokio::test]
async fn a_job_error_fails_the_video_with_the_job_reason() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    assert_eq!(w.record(&id).stage(Stage::Transcode), StageStatus::Running);
    let change = JobStateChange {
        video_id: id.clone(),
        job_id: format!("job-{id}-0"),
        outcome: JobOutcome::Error {
            code: Some(1030),
            message: "Unsupported codec".into(),
        },
        job: JobKind::Renditions,
        generation: 0,
    };
    let err = w.job_state_changed(&change).await.unwrap_err();
    assert!(!err.is_retryable());
    let rec = w.record(&id);
    assert_eq!(rec.failure.as_ref().unwrap().stage, Stage::Transcode);
    assert!(rec.failure.unwrap().reason.contains("1030"));
    // A stale COMPLETE for the same job afterwards changes nothing.
    let late = JobStateChange {
        outcome: JobOutcome::Complete { outputs: vec![] },
        ..change
    };
    let handled = w.job_state_changed(&late).await.unwrap();
    assert!(matches!(handled, stages::Handled::Skipped(..)));
    assert_eq!(w.record(&id).status, VideoStatus::Failed);
}

#[tokio::test]
async fn a_retryable_submit_failure_gives_the_claim_back() {
    let w = World::new();
    let event = w.upload("uploads/talk.mp4", b"v", Some(media(10.0, true, true)));
    let mut transcoder = FakeTranscoder::new(&w.store);
    transcoder.fail_with = Some(PortError::Unavailable("throttled".into()));
    let report = w
        .run_with(&transcoder, event, &IngestOptions::default())
        .await;
    let id = report.videos[0].clone();
    assert_eq!(
        transcoder.submitted.lock().unwrap().len(),
        crate::dispatch::MAX_RECEIVE_COUNT as usize
    );
    let rec = w.record(&id);
    assert_eq!(rec.failure.unwrap().stage, Stage::Transcode);
}

#[tokio::test]
async fn a_gif_job_of_its_own_is_kept_whichever_job_ends_first_and_never_fails_the_video() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    let gif = crate::record::OutputFile {
        key: keys::PlanKeys::new(&id, 0).preview_gif(),
        kind: crate::record::OutputKind::Gif,
        name: None,
        codec: "gif".into(),
        width_px: Some(480),
        height_px: Some(270),
        bitrate_bps: None,
        duration_s: Some(5.0),
        bytes: 1000,
    };
    let gif_done = JobStateChange {
        video_id: id.clone(),
        job_id: "gif-job".into(),
        outcome: JobOutcome::Complete {
            outputs: vec![gif.clone()],
        },
        job: JobKind::Gif,
        generation: 0,
    };
    // The GIF job ends first; the renditions job after it.
    let handled = w.job_state_changed(&gif_done).await.unwrap();
    assert!(matches!(handled, stages::Handled::Done(_)), "{handled:?}");
    let plan = w.record(&id).plan.unwrap();
    let mut renditions = transcoder.outputs_for(&keys::PlanKeys::new(&id, 0), &plan);
    renditions.retain(|o| o.kind != crate::record::OutputKind::Gif);
    let done = JobStateChange {
        video_id: id.clone(),
        job_id: format!("job-{id}-0"),
        outcome: JobOutcome::Complete {
            outputs: renditions.clone(),
        },
        job: JobKind::Renditions,
        generation: 0,
    };
    w.job_state_changed(&done).await.unwrap();
    let rec = w.record(&id);
    assert_eq!(rec.stage(Stage::Transcode), StageStatus::Done);
    assert_eq!(rec.outputs.len(), renditions.len() + 1);
    assert_eq!(
        rec.outputs
            .iter()
            .filter(|o| o.kind == crate::record::OutputKind::Gif)
            .count(),
        1
    );
    // The same GIF event again changes nothing; a failed GIF job fails nothing.
    let version = rec.version;
    let again = w.job_state_changed(&gif_done).await.unwrap();
    assert!(matches!(again, stages::Handled::Skipped(..)), "{again:?}");
    let failed = JobStateChange {
        outcome: JobOutcome::Error {
            code: Some(1040),
            message: "GIF encoder failed".into(),
        },
        ..gif_done
    };
    w.job_state_changed(&failed).await.unwrap();
    let rec = w.record(&id);
    assert_eq!((rec.version, rec.failure), (version, None));
}

/// A claim made by an invocation that died before it submitted its job (a timeout, a
/// killed process) is taken again once its lease has run out, and not before; once
/// a job is submitted, the job holds the stage and no lease can run out.
#[tokio::test]
async fn a_claim_whose_holder_died_is_taken_again_after_its_lease() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    let rec = w.record(&id);
    assert_eq!(rec.stage(Stage::Transcode), StageStatus::Running);
    assert_eq!(
        rec.lease(Stage::Transcode),
        None,
        "the submitted job holds it"
    );
    assert_eq!(transcoder.submitted.lock().unwrap().len(), 1);
    let redeliver = || stages::transcode(&w.records, &transcoder, &w.recorder, &w.recorder, &id);
    assert!(matches!(
        redeliver().await.unwrap(),
        stages::Handled::Skipped(..)
    ));

    // As if the claiming invocation had died before submitting: no job, a lease.
    let hold = |expires_unix_s| {
        let mut rows = w.records.rows.lock().unwrap();
        let r = rows.get_mut(&id).unwrap();
        r.job_id = None;
        r.claim_stage(
            Stage::Transcode,
            crate::record::Lease {
                holder: "transcode (2026/12/02/[$LATEST]abc)".into(),
                expires_unix_s,
            },
        );
    };
    let now = crate::record::now_unix_s();
    hold(now + 600);
    assert!(matches!(
        redeliver().await.unwrap(),
        stages::Handled::Skipped(..)
    ));
    assert_eq!(
        transcoder.submitted.lock().unwrap().len(),
        1,
        "a live lease is kept"
    );
    hold(now - 1);
    assert!(matches!(
        redeliver().await.unwrap(),
        stages::Handled::Done(_)
    ));
    assert_eq!(
        transcoder.submitted.lock().unwrap().len(),
        2,
        "an expired one is taken"
    );
    let rec = w.record(&id);
    assert_eq!(rec.job_id.as_deref(), Some(format!("job-{id}-0").as_str()));
    assert_eq!(rec.lease(Stage::Transcode), None);
}

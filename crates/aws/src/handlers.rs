//! The six functions' handlers: an SQS batch in, the records to deliver again out
//! (`ReportBatchItemFailures`). Each record runs in its own tracing span carrying the
//! message id and, once known, the video id.
//!
//! How a record ends:
//! - the stage succeeded, skipped, or failed for good (its failure is recorded on the
//!   video, with a notification): the record is done and leaves the queue;
//! - the stage failed in a way a later delivery may fix (throttling, a dependency
//!   down, an earlier stage not finished): the record is reported and SQS delivers it
//!   again after the visibility timeout. On the last delivery the queue allows
//!   ([`vidpipe_domain::router::MAX_RECEIVE_COUNT`]) the failure is recorded on the
//!   video too, and the record goes on to the dead-letter queue;
//! - the body cannot be read at all: it is reported every time, so it ends in the
//!   dead-letter queue with nothing lost, and the error log says why.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::{error, info, info_span, warn, Instrument};
use vidpipe_domain::events::{route, ObjectCreated, PipelineEvent, PipelineMessage};
use vidpipe_domain::keys::{self, VideoId};
use vidpipe_domain::ports::*;
use vidpipe_domain::record::Stage;
use vidpipe_domain::router::MAX_RECEIVE_COUNT;
use vidpipe_domain::stages::{self, Handled, IngestOptions, IngestOutcome, PipelineConfig};
use vidpipe_domain::{PortError, StageError};

use crate::events::{read_body, Body};
use crate::mediaconvert::{job_state_change, JobEventError};
use crate::probe::S3Prober;
use crate::s3::S3Store;

/// What one record's work came to.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordResult {
    Done(String),
    /// Deliver again (retryable).
    Retry(String),
    /// Unreadable or not ours to read: to the dead-letter queue.
    Unreadable(String),
}

/// The record's delivery count so far (SQS attribute `ApproximateReceiveCount`).
fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Runs `work` on every record of `event`, each in its own span, and collects the
/// records to deliver again.
pub async fn each_record<F, Fut>(function: Stage, event: SqsEvent, mut work: F) -> SqsBatchResponse
where
    F: FnMut(Body, u32) -> Fut,
    Fut: std::future::Future<Output = RecordResult>,
{
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        let span = info_span!(
            "record",
            function = function.as_str(),
            message_id = %message_id,
            video_id = tracing::field::Empty
        );
        let result = async {
            let body = message.body.as_deref().unwrap_or("");
            match read_body(&message_id, body) {
                // Boxed: a stage's future nests deeply (ingest re-enters itself when a
                // sidecar arrives late), past rustc's layout depth limit in the
                // binaries if left inline.
                Ok(body) => Box::pin(work(body, receive_count(&message))).await,
                Err(e) => RecordResult::Unreadable(e.to_string()),
            }
        }
        .instrument(span.clone())
        .await;
        let _entered = span.enter();
        match result {
            RecordResult::Done(what) => info!(result = %what, "done"),
            RecordResult::Retry(why) => {
                warn!(reason = %why, "delivering again");
                response.batch_item_failures.push(failure(&message_id));
            }
            RecordResult::Unreadable(why) => {
                error!(reason = %why, "unreadable record; it goes to the dead-letter queue");
                response.batch_item_failures.push(failure(&message_id));
            }
        }
    }
    response
}

fn failure(message_id: &str) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = message_id.to_string();
    f
}

/// Turns a stage's result into the record's, recording a retryable failure on the
/// video when this was the queue's last delivery.
async fn settle<R: VideoRecords, N: Notifier>(
    records: &R,
    notifier: &N,
    stage: Stage,
    video: Option<&VideoId>,
    receives: u32,
    result: Result<String, StageError>,
) -> RecordResult {
    if let Some(id) = video {
        tracing::Span::current().record("video_id", id.as_str());
    }
    match result {
        Ok(what) => RecordResult::Done(what),
        Err(e) if e.is_retryable() => {
            if receives >= MAX_RECEIVE_COUNT {
                if let Some(id) = video {
                    let reason = StageError::Port(PortError::Failed(format!(
                        "gave up after {receives} deliveries: {e}"
                    )));
                    stages::record_failure(records, notifier, id, stage, reason).await;
                }
            }
            RecordResult::Retry(e.to_string())
        }
        // Recorded on the video by the stage.
        Err(e) => RecordResult::Done(format!("failed for good: {e}")),
    }
}

/// The objects of a body that route to `stage`, or why there are none. Ingest also
/// takes keys no stage should read (`/uploads/…`, `uploads/../…`): it refuses them
/// with the reason recorded, where ignoring them would leave no trace.
fn objects_for(stage: Stage, body: Body) -> Result<Vec<ObjectCreated>, RecordResult> {
    match body {
        Body::Objects(objects) => Ok(objects
            .into_iter()
            .filter(|o| {
                let ours = route(&PipelineEvent::ObjectCreated(o.clone())) == Some(stage)
                    || (stage == Stage::Ingest && keys::unsafe_key_reason(&o.key).is_some());
                if !ours {
                    info!(key = %o.key, "not an object this function takes; ignored");
                }
                ours
            })
            .collect()),
        Body::Ignored(why) => Err(RecordResult::Done(format!("ignored: {why}"))),
        other => Err(RecordResult::Unreadable(format!(
            "{stage} takes S3 notifications, not {other:?}"
        ))),
    }
}

/// Several objects in one notification: retry if any needs it.
fn combine(results: Vec<RecordResult>) -> RecordResult {
    if let Some(r) = results.iter().find(|r| matches!(r, RecordResult::Retry(_))) {
        return r.clone();
    }
    RecordResult::Done(
        results
            .into_iter()
            .map(|r| match r {
                RecordResult::Done(s) | RecordResult::Retry(s) | RecordResult::Unreadable(s) => s,
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// ingest: S3 object created under `uploads/`.
pub async fn ingest<R, B, N>(
    store: &S3Store,
    records: &R,
    bus: &B,
    notifier: &N,
    config: &PipelineConfig,
    event: SqsEvent,
) -> SqsBatchResponse
where
    R: VideoRecords,
    B: MessageBus,
    N: Notifier,
{
    each_record(Stage::Ingest, event, |body, receives| async move {
        let objects = match objects_for(Stage::Ingest, body) {
            Ok(o) => o,
            Err(done) => return done,
        };
        let prober = S3Prober { store };
        let mut results = Vec::new();
        for object in objects {
            let outcome = stages::ingest(
                store,
                &prober,
                records,
                bus,
                notifier,
                config,
                &object,
                &IngestOptions::default(),
            )
            .await;
            // A sidecar's outcome is its video's; it has no id of its own.
            let video = (keys::extension_of(&object.key).as_deref() != Some("json"))
                .then(|| stages::video_id_for(config.id_scheme, &object));
            let result = outcome.map(|o| match o {
                IngestOutcome::Planned { video_id, notes } => {
                    format!(
                        "planned {video_id} for {}; {}",
                        object.key,
                        notes.join("; ")
                    )
                }
                IngestOutcome::AlreadyIngested { video_id } => {
                    format!("{video_id} already ingested")
                }
                IngestOutcome::SidecarNoted { key } => format!("sidecar {key} noted"),
            });
            results.push(
                settle(
                    records,
                    notifier,
                    Stage::Ingest,
                    video.as_ref(),
                    receives,
                    result,
                )
                .await,
            );
        }
        combine(results)
    })
    .await
}

/// transcode: transcode and promo requests, and MediaConvert job state changes.
pub async fn transcode<R, T, B, N>(
    store: &S3Store,
    records: &R,
    transcoder: &T,
    bus: &B,
    notifier: &N,
    event: SqsEvent,
) -> SqsBatchResponse
where
    R: VideoRecords,
    T: Transcoder,
    B: MessageBus,
    N: Notifier,
{
    each_record(Stage::Transcode, event, |body, receives| async move {
        let (video, result) = match body {
            Body::Message(PipelineMessage::TranscodeRequested { video_id }) => {
                let r = stages::transcode(records, transcoder, bus, notifier, &video_id).await;
                (video_id, r)
            }
            Body::Message(PipelineMessage::PromoRequested { video_id }) => {
                let r = stages::render_promo(records, transcoder, bus, &video_id).await;
                (video_id, r)
            }
            Body::Message(PipelineMessage::JobStateChanged(change)) => {
                let r = stages::job_state_changed(records, bus, notifier, &change).await;
                (change.video_id, r)
            }
            Body::JobState(value) => match job_state_change(store, &value).await {
                Ok(change) => {
                    let r = stages::job_state_changed(records, bus, notifier, &change).await;
                    (change.video_id, r)
                }
                Err(JobEventError::Ignored(why)) => {
                    return RecordResult::Done(format!("ignored: {why}"))
                }
                Err(JobEventError::Malformed(why)) => {
                    return RecordResult::Unreadable(format!("MediaConvert event: {why}"))
                }
            },
            Body::Ignored(why) => return RecordResult::Done(format!("ignored: {why}")),
            other => return RecordResult::Unreadable(format!("transcode does not take {other:?}")),
        };
        let result = result.map(|h| h.to_string());
        settle(
            records,
            notifier,
            Stage::Transcode,
            Some(&video),
            receives,
            result,
        )
        .await
    })
    .await
}

/// The record's work for the stages an object's creation starts (transcribe-start,
/// transcribe-store, rekognition): `run` on each object of the body that routes to
/// `stage`, each settled against the video its key names.
async fn each_object<R, N, F, Fut>(
    records: &R,
    notifier: &N,
    stage: Stage,
    body: Body,
    receives: u32,
    mut run: F,
) -> RecordResult
where
    R: VideoRecords,
    N: Notifier,
    F: FnMut(ObjectCreated) -> Fut,
    Fut: std::future::Future<Output = Result<Handled, StageError>>,
{
    let objects = match objects_for(stage, body) {
        Ok(o) => o,
        Err(done) => return done,
    };
    let mut results = Vec::new();
    for o in objects {
        let video = keys::video_id_in(&o.key);
        let r = run(o).await.map(|h| h.to_string());
        results.push(settle(records, notifier, stage, video.as_ref(), receives, r).await);
    }
    combine(results)
}

/// transcribe-start: `media/<id>/audio.mp3` created.
pub async fn transcribe_start<R, T, N>(
    store: &S3Store,
    records: &R,
    transcriber: &T,
    notifier: &N,
    event: SqsEvent,
) -> SqsBatchResponse
where
    R: VideoRecords,
    T: Transcriber,
    N: Notifier,
{
    let stage = Stage::TranscribeStart;
    each_record(stage, event, |body, receives| {
        each_object(records, notifier, stage, body, receives, |o| async move {
            stages::transcribe_start(store, records, transcriber, notifier, &o.key).await
        })
    })
    .await
}

/// transcribe-store: `transcripts/<id>/transcript.json` created.
pub async fn transcribe_store<R, B, N>(
    store: &S3Store,
    records: &R,
    bus: &B,
    notifier: &N,
    config: &PipelineConfig,
    event: SqsEvent,
) -> SqsBatchResponse
where
    R: VideoRecords,
    B: MessageBus,
    N: Notifier,
{
    let stage = Stage::TranscribeStore;
    each_record(stage, event, |body, receives| {
        each_object(records, notifier, stage, body, receives, |o| async move {
            stages::transcribe_store(store, records, bus, notifier, &config.understanding, &o.key)
                .await
        })
    })
    .await
}

/// rekognition: frame captures created.
pub async fn rekognition<R, A, B, N>(
    store: &S3Store,
    records: &R,
    analyzer: &A,
    bus: &B,
    notifier: &N,
    event: SqsEvent,
) -> SqsBatchResponse
where
    R: VideoRecords,
    A: FrameAnalyzer,
    B: MessageBus,
    N: Notifier,
{
    let stage = Stage::Rekognition;
    each_record(stage, event, |body, receives| {
        each_object(records, notifier, stage, body, receives, |o| async move {
            stages::choose_cover_for(store, records, analyzer, bus, notifier, &o.key).await
        })
    })
    .await
}

/// publish: a part was recorded; publish once every part is settled.
pub async fn publish<R, P, N>(
    store: &S3Store,
    records: &R,
    publisher: &P,
    notifier: &N,
    config: &PipelineConfig,
    event: SqsEvent,
) -> SqsBatchResponse
where
    R: VideoRecords,
    P: Publisher,
    N: Notifier,
{
    each_record(Stage::Publish, event, |body, receives| async move {
        let video_id = match body {
            Body::Message(PipelineMessage::PartRecorded { video_id, .. }) => video_id,
            Body::Ignored(why) => return RecordResult::Done(format!("ignored: {why}")),
            other => return RecordResult::Unreadable(format!("publish does not take {other:?}")),
        };
        let r = stages::publish(
            store,
            records,
            publisher,
            notifier,
            &config.understanding,
            &video_id,
        )
        .await
        .map(|h| h.to_string());
        settle(
            records,
            notifier,
            Stage::Publish,
            Some(&video_id),
            receives,
            r,
        )
        .await
    })
    .await
}

//! The functions' one handler: an SQS batch in, the records to deliver again out
//! (`ReportBatchItemFailures`). Each record runs in its own tracing span carrying the
//! message id and, once known, the video id; its events go to their stage through the
//! domain's dispatcher ([`vidpipe_domain::dispatch::deliver`]), which also applies
//! the queue's delivery-count rule.
//!
//! How a record ends:
//! - the stage succeeded, skipped, or failed for good (its failure is recorded on the
//!   video, with a notification): the record is done and leaves the queue;
//! - a service's quota refused a call (throttling): a copy of the record goes back on
//!   the function's queue with a growing delay ([`crate::requeue`]), and the record
//!   is done; the delivery counts toward nothing, so throttling never fails a video;
//! - the stage failed in a way a later delivery may fix (a dependency down, an
//!   earlier stage not finished): the record is reported and SQS delivers it again
//!   after the visibility timeout. On the last delivery the queue allows
//!   ([`vidpipe_domain::dispatch::MAX_RECEIVE_COUNT`]) the failure is recorded on the
//!   video too, and the record goes on to the dead-letter queue;
//! - the body cannot be read at all: it is reported every time, so it ends in the
//!   dead-letter queue with nothing lost, and the error log says why.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::{error, info, info_span, warn, Instrument};
use vidpipe_domain::dispatch::{deliver, Delivery, Dispatch, Disposition, Throttling};
use vidpipe_domain::events::{route, route_key, ObjectCreated, PipelineEvent, PipelineMessage};
use vidpipe_domain::keys::{self, VideoId};
use vidpipe_domain::ports::MessageBus;
use vidpipe_domain::record::Stage;
use vidpipe_domain::stages::{publish_to_destinations, IngestOptions, PipelineConfig};

use crate::deliveries::Deliveries;
use crate::events::{read_body, Body};
use crate::mediaconvert::{job_state_change, JobEventError};
use crate::notify::CloudNotifier;
use crate::platforms::CloudPlatforms;
use crate::records::DynamoRecords;
use crate::requeue::{deferrals, Requeue};
use crate::s3::S3Store;

/// What a function does around its stage: before ingest, the upload's talk-sheet
/// row is looked up; after publish, the outbox's emails and sheet link are made
/// ([`Deliveries`]).
#[derive(Clone, Copy, Debug)]
pub struct Around<'a> {
    pub deliveries: &'a Deliveries,
    pub records: &'a DynamoRecords,
    /// Tells of a video published once its destinations settle.
    pub notifier: &'a CloudNotifier,
    /// The platforms (the publish function's): after publish, each video's
    /// destinations are moved on ([`publish_to_destinations`]).
    pub platforms: Option<&'a CloudPlatforms>,
    /// When this invocation stops uploading and hands over ([`crate::function::HANDOVER_MARGIN`]
    /// before its deadline); `None`: no deadline.
    pub stop_at: Option<std::time::Instant>,
    /// The SDK's settings, for the clients an event needs beyond the stage's own
    /// (Transcribe's, to read why a transcription job failed).
    pub sdk: &'a aws_config::SdkConfig,
    /// Where a throttled record goes back; none: it is delivered again the usual way.
    pub requeue: Option<Requeue<'a>>,
}

/// The record's delivery count so far (SQS attribute `ApproximateReceiveCount`).
fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// What one record came to.
#[derive(Debug, Clone, PartialEq)]
enum RecordEnd {
    /// Every event settled (done, skipped, ignored, or failed for good).
    Settled(String),
    /// Deliver again (retryable), or on to the dead-letter queue after the last try.
    Again(String),
    /// A service's quota refused it: back on the queue with a delay.
    Throttled(String),
    /// Unreadable or not ours to read: to the dead-letter queue.
    Unreadable(String),
}

/// Runs `stage`'s function on every record of `event`, each in its own span, and
/// answers with the records to deliver again. `adapters` are the ports the function
/// wires (the others `None`), as [`vidpipe_domain::dispatch::Adapters`]; `around`
/// what it does before ingest and after publish.
pub async fn handle<D, B>(
    stage: Stage,
    adapters: &D,
    bus: &B,
    config: &PipelineConfig,
    around: Around<'_>,
    event: SqsEvent,
) -> SqsBatchResponse
where
    D: Dispatch<Store = S3Store>,
    B: MessageBus,
{
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        let span = info_span!(
            "record",
            stage = stage.as_str(),
            message_id = %message_id,
            video_id = tracing::field::Empty
        );
        // Boxed: a stage's future nests deeply (ingest re-enters itself when a sidecar
        // arrives late), past rustc's layout depth limit in the binaries if inline.
        let end = Box::pin(handle_record(
            stage, adapters, bus, config, around, &message,
        ))
        .instrument(span.clone())
        .await;
        let end = match (end, around.requeue) {
            (RecordEnd::Throttled(why), Some(requeue)) => {
                defer(requeue, &message, why).instrument(span.clone()).await
            }
            (end, _) => end,
        };
        let _entered = span.enter();
        let item = match end {
            RecordEnd::Settled(what) => {
                info!(result = %what, "done");
                continue;
            }
            RecordEnd::Again(why) => {
                warn!(reason = %why, "delivering again");
                failure(&message_id)
            }
            RecordEnd::Throttled(why) => {
                // Only when the delayed copy could not be sent.
                warn!(reason = %why, "throttled, and not put back on the queue; delivering again");
                failure(&message_id)
            }
            RecordEnd::Unreadable(why) => {
                error!(reason = %why, "unreadable record; it goes to the dead-letter queue");
                failure(&message_id)
            }
        };
        response.batch_item_failures.push(item);
    }
    response
}

/// Puts a throttled record back on its queue with a delay: settled once it is there.
async fn defer(requeue: Requeue<'_>, message: &SqsMessage, why: String) -> RecordEnd {
    match requeue.defer(message).await {
        Ok(delay_s) => {
            let n = deferrals(message) + 1;
            RecordEnd::Settled(format!(
                "throttled ({why}); back on the queue in {delay_s} s (deferral {n})"
            ))
        }
        Err(e) => RecordEnd::Throttled(format!("{why}; {e}")),
    }
}

fn failure(message_id: &str) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = message_id.to_string();
    f
}

async fn handle_record<D, B>(
    stage: Stage,
    adapters: &D,
    bus: &B,
    config: &PipelineConfig,
    around: Around<'_>,
    message: &SqsMessage,
) -> RecordEnd
where
    D: Dispatch<Store = S3Store>,
    B: MessageBus,
{
    let message_id = message.message_id.as_deref().unwrap_or("");
    let body = match read_body(message_id, message.body.as_deref().unwrap_or("")) {
        Ok(body) => body,
        Err(e) => return RecordEnd::Unreadable(e.to_string()),
    };
    let body = match body {
        Body::TranscriptionState(event) if stage == Stage::TranscribeStore => {
            let client = aws_sdk_transcribe::Client::new(around.sdk);
            match crate::transcribe::failed_job(&client, &event).await {
                Ok(Some(message)) => Body::Message(message),
                Ok(None) => return RecordEnd::Settled("ignored: not a failed vidpipe job".into()),
                Err((true, why)) => return RecordEnd::Again(why),
                Err((false, why)) => {
                    return RecordEnd::Unreadable(format!("Transcribe event: {why}"))
                }
            }
        }
        other => other,
    };
    let events = match events_for(stage, adapters.store(), body).await {
        Ok(events) => events,
        Err(end) => return end,
    };
    // Throttling is deferred, uncounted, only where it can go back on the queue.
    let throttling = match around.requeue {
        Some(_) => Throttling::Deferred,
        None => Throttling::Counted,
    };
    let mut deliveries = Vec::new();
    for event in events {
        let mut options = IngestOptions::default();
        if let (PipelineEvent::ObjectCreated(upload), Some(sheet)) =
            (&event, &around.deliveries.sheet)
        {
            if stage == Stage::Ingest {
                options.talk = sheet.lookup(adapters.store(), upload).await;
            }
        }
        let delivery = deliver(
            adapters,
            bus,
            config,
            stage,
            event,
            &options,
            receive_count(message),
            throttling,
        )
        .await;
        if let Some(id) = &delivery.video_id {
            tracing::Span::current().record("video_id", id.as_str());
        }
        deliveries.push(delivery);
    }
    let end = combine(&deliveries);
    if stage != Stage::Publish || !matches!(end, RecordEnd::Settled(_)) {
        return end;
    }
    if let Some(again) = publish_to_platforms(around, bus, &deliveries).await {
        return again;
    }
    notify_published(around, &deliveries).await.unwrap_or(end)
}

/// After publish: each video's destinations moved on as far as they go in this
/// invocation. One stopped at the deadline is handed over to the next invocation (a
/// "part recorded" on the publish queue); one waiting (a rate limit, a quota) is the
/// reconciler's to drive again when its time comes.
async fn publish_to_platforms<B: MessageBus>(
    around: Around<'_>,
    bus: &B,
    deliveries: &[Delivery],
) -> Option<RecordEnd> {
    let platforms = around.platforms?;
    let clock = || vidpipe_domain::record::now_unix_s() as i64;
    for id in handled_videos(deliveries) {
        let report = match publish_to_destinations(
            around.records,
            platforms,
            around.notifier,
            id,
            &clock,
            around.stop_at,
        )
        .await
        {
            Ok(report) => report,
            Err(e) => return Some(RecordEnd::Again(format!("destinations: {e}"))),
        };
        for (to, state) in &report.states {
            info!(to = %to, state = %state, "destination");
        }
        if report.stopped_at_deadline {
            let message = PipelineMessage::PartRecorded {
                video_id: id.clone(),
                stage: Stage::Publish,
            };
            if let Err(e) = bus.send(message).await {
                return Some(RecordEnd::Again(format!("handing the upload over: {e}")));
            }
            info!("the upload goes on in the next invocation");
        }
    }
    None
}

/// After publish: each published video's due emails and sheet link. Anything deferred
/// (SES throttling, the sheet's quota) delivers the record again, which finds the
/// video published and makes only what is still due.
async fn notify_published(around: Around<'_>, deliveries: &[Delivery]) -> Option<RecordEnd> {
    for id in handled_videos(deliveries) {
        match around.deliveries.notify(around.records, id).await {
            Ok(report) if !report.deferred.is_empty() => {
                let (to, why) = &report.deferred[0];
                return Some(RecordEnd::Again(format!("{to}: {why}")));
            }
            Ok(report) => {
                for (to, why) in &report.failed {
                    warn!(to = %to, reason = %why, "refused; recorded on the video");
                }
            }
            Err(e) => return Some(RecordEnd::Again(format!("notify: {e}"))),
        }
    }
    None
}

/// The videos whose publish stage ran without an error (a stray event for a video
/// with no record, failed for good, has nothing to publish or notify).
fn handled_videos(deliveries: &[Delivery]) -> impl Iterator<Item = &VideoId> {
    deliveries
        .iter()
        .filter(|d| d.result.is_ok())
        .filter_map(|d| d.video_id.as_ref())
}

/// The events of a body that `stage` takes, or how the record ends without any.
async fn events_for(
    stage: Stage,
    store: &S3Store,
    body: Body,
) -> Result<Vec<PipelineEvent>, RecordEnd> {
    match body {
        Body::Objects(_) if matches!(stage, Stage::Transcode | Stage::Publish) => Err(
            RecordEnd::Unreadable(format!("{stage} takes messages, not S3 notifications")),
        ),
        Body::Objects(objects) => Ok(objects
            .into_iter()
            .filter(|o| takes_object(stage, o))
            .map(PipelineEvent::ObjectCreated)
            .collect()),
        Body::Message(m) if route(&PipelineEvent::Message(m.clone())) == Some(stage) => {
            Ok(vec![PipelineEvent::Message(m)])
        }
        Body::JobState(value) if stage == Stage::Transcode => {
            match job_state_change(store, &value).await {
                Ok(change) => Ok(vec![PipelineEvent::Message(
                    PipelineMessage::JobStateChanged(change),
                )]),
                Err(JobEventError::Ignored(why)) => {
                    Err(RecordEnd::Settled(format!("ignored: {why}")))
                }
                Err(JobEventError::Malformed(why)) => {
                    Err(RecordEnd::Unreadable(format!("MediaConvert event: {why}")))
                }
            }
        }
        Body::Ignored(why) => Err(RecordEnd::Settled(format!("ignored: {why}"))),
        other => Err(RecordEnd::Unreadable(format!(
            "{stage} does not take {other:?}"
        ))),
    }
}

/// Whether `stage`'s function takes the object: the routing rule's, and for ingest
/// also keys no stage should read (`/uploads/…`), which it refuses with the reason
/// recorded, where ignoring them would leave no trace.
fn takes_object(stage: Stage, o: &ObjectCreated) -> bool {
    let ours = route_key(&o.key) == Some(stage)
        || (stage == Stage::Ingest && keys::unsafe_key_reason(&o.key).is_some());
    if !ours {
        info!(key = %o.key, "not an object this function takes; ignored");
    }
    ours
}

/// Several events in one record: deliver the record again if any needs it.
fn combine(deliveries: &[Delivery]) -> RecordEnd {
    let text = |d: &Delivery| match &d.result {
        Ok(handled) => handled.to_string(),
        Err(e) if d.disposition == Disposition::Failed => format!("failed for good: {e}"),
        Err(e) => e.to_string(),
    };
    if let Some(again) = deliveries
        .iter()
        .find(|d| matches!(d.disposition, Disposition::Redeliver | Disposition::GaveUp))
    {
        return RecordEnd::Again(text(again));
    }
    if let Some(throttled) = deliveries
        .iter()
        .find(|d| d.disposition == Disposition::Deferred)
    {
        return RecordEnd::Throttled(text(throttled));
    }
    RecordEnd::Settled(deliveries.iter().map(text).collect::<Vec<_>>().join("; "))
}

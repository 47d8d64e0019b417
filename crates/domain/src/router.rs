//! The in-process router of local mode: it applies [`crate::events::route`] (the
//! rules `template.yaml` wires into S3 notifications, SQS and EventBridge) to a queue
//! of events, calls the stage each event goes to, and queues what the stages send and
//! the objects they write. Like SQS with a dead-letter queue, an event whose stage
//! fails retryably is delivered again, up to [`MAX_RECEIVE_COUNT`] times, and then
//! dead-lettered with the failure recorded on its video.

use std::collections::VecDeque;
use std::sync::Mutex;

use tracing::{debug, warn};

use crate::error::{PortError, StageError};
use crate::events::{route, ObjectCreated, PipelineEvent, PipelineMessage};
use crate::keys::{self, VideoId};
use crate::ports::*;
use crate::record::Stage;
use crate::stages::{self, IngestOptions, IngestOutcome, PipelineConfig};

/// Deliveries of one event before it is dead-lettered (the template's
/// `maxReceiveCount`).
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// Objects written since the last call, as S3 would announce them.
pub trait CreatedObjects {
    fn take_created(&self) -> Vec<ObjectCreated>;
}

/// The adapters the router hands to the stages.
pub struct Adapters<'a, S, P, R, T, A, Pb, N, Tr> {
    pub store: &'a S,
    pub prober: &'a P,
    pub records: &'a R,
    pub transcoder: &'a T,
    pub analyzer: &'a A,
    pub publisher: &'a Pb,
    pub notifier: &'a N,
    /// `None`: no transcriber here, and the transcribe stages are skipped.
    pub transcriber: Option<&'a Tr>,
}

/// One delivery and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub stage: Stage,
    pub event: PipelineEvent,
    pub result: Result<String, StageError>,
}

/// What a run did, in order.
#[derive(Debug, Default)]
pub struct RunReport {
    pub deliveries: Vec<Delivery>,
    /// Events given up on after [`MAX_RECEIVE_COUNT`] deliveries, or failed for good.
    pub dead_letters: Vec<(PipelineEvent, StageError)>,
    /// The ids ingest planned or found.
    pub videos: Vec<VideoId>,
    pub ingest_failures: Vec<StageError>,
}

#[derive(Default)]
struct Queue(Mutex<VecDeque<(PipelineEvent, u32)>>);

impl Queue {
    fn push(&self, event: PipelineEvent, attempt: u32) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((event, attempt));
    }
    fn pop(&self) -> Option<(PipelineEvent, u32)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    }
}

impl MessageBus for Queue {
    async fn send(&self, message: PipelineMessage) -> Result<(), PortError> {
        self.push(PipelineEvent::Message(message), 1);
        Ok(())
    }
}

/// Runs the pipeline from `first` until no event is left. `options` apply to the
/// ingest of `first`'s upload.
pub async fn run<S, P, R, T, A, Pb, N, Tr>(
    adapters: &Adapters<'_, S, P, R, T, A, Pb, N, Tr>,
    config: &PipelineConfig,
    first: PipelineEvent,
    options: &IngestOptions,
) -> RunReport
where
    S: ObjectReader + ObjectWriter + CreatedObjects,
    P: MediaProber,
    R: VideoRecords,
    T: Transcoder,
    A: FrameAnalyzer,
    Pb: Publisher,
    N: Notifier,
    Tr: Transcriber,
{
    let queue = Queue::default();
    let mut report = RunReport::default();
    queue.push(first, 1);
    let mut default_options = Some(options);
    while let Some((event, attempt)) = queue.pop() {
        let Some(stage) = route(&event) else {
            debug!(?event, "no stage takes this event");
            continue;
        };
        let result = deliver(
            adapters,
            config,
            &queue,
            stage,
            &event,
            default_options.take().unwrap_or(&IngestOptions::default()),
            &mut report,
        )
        .await;
        for object in adapters.store.take_created() {
            queue.push(PipelineEvent::ObjectCreated(object), 1);
        }
        match &result {
            Err(e) if e.is_retryable() && attempt < MAX_RECEIVE_COUNT => {
                debug!(stage = %stage, attempt, error = %e, "delivering again later");
                queue.push(event.clone(), attempt + 1);
            }
            Err(e) if e.is_retryable() => {
                warn!(stage = %stage, error = %e, "dead-lettered after {MAX_RECEIVE_COUNT} deliveries");
                if let Some(id) = video_of(&event) {
                    let reason = StageError::Port(PortError::Failed(format!(
                        "gave up after {MAX_RECEIVE_COUNT} deliveries: {e}"
                    )));
                    stages::record_failure(adapters.records, adapters.notifier, &id, stage, reason)
                        .await;
                }
                report.dead_letters.push((event.clone(), e.clone()));
            }
            Err(e) => report.dead_letters.push((event.clone(), e.clone())),
            Ok(_) => {}
        }
        report.deliveries.push(Delivery {
            stage,
            event,
            result,
        });
    }
    report
}

fn video_of(event: &PipelineEvent) -> Option<VideoId> {
    match event {
        PipelineEvent::Message(m) => Some(m.video_id().clone()),
        PipelineEvent::ObjectCreated(o) => keys::video_id_in(&o.key),
    }
}

async fn deliver<S, P, R, T, A, Pb, N, Tr>(
    a: &Adapters<'_, S, P, R, T, A, Pb, N, Tr>,
    config: &PipelineConfig,
    queue: &Queue,
    stage: Stage,
    event: &PipelineEvent,
    options: &IngestOptions,
    report: &mut RunReport,
) -> Result<String, StageError>
where
    S: ObjectReader + ObjectWriter + CreatedObjects,
    P: MediaProber,
    R: VideoRecords,
    T: Transcoder,
    A: FrameAnalyzer,
    Pb: Publisher,
    N: Notifier,
    Tr: Transcriber,
{
    let handled = match (stage, event) {
        (Stage::Ingest, PipelineEvent::ObjectCreated(o)) => {
            let outcome = stages::ingest(
                a.store, a.prober, a.records, queue, a.notifier, config, o, options,
            )
            .await;
            return match outcome {
                Ok(IngestOutcome::Planned { video_id, notes }) => {
                    report.videos.push(video_id.clone());
                    Ok(format!(
                        "planned {video_id}{}",
                        notes.iter().map(|n| format!("; {n}")).collect::<String>()
                    ))
                }
                Ok(IngestOutcome::AlreadyIngested { video_id }) => {
                    report.videos.push(video_id.clone());
                    Ok(format!("{video_id} already ingested"))
                }
                Ok(IngestOutcome::SidecarNoted { key }) => Ok(format!("sidecar {key} noted")),
                Err(e) => {
                    report.ingest_failures.push(e.clone());
                    Err(e)
                }
            };
        }
        (
            Stage::Transcode,
            PipelineEvent::Message(PipelineMessage::TranscodeRequested { video_id }),
        ) => stages::transcode(a.records, a.transcoder, queue, a.notifier, video_id).await,
        (
            Stage::Transcode,
            PipelineEvent::Message(PipelineMessage::PromoRequested { video_id }),
        ) => stages::render_promo(a.records, a.transcoder, queue, video_id).await,
        (Stage::Transcode, PipelineEvent::Message(PipelineMessage::JobStateChanged(change))) => {
            stages::job_state_changed(a.records, queue, a.notifier, change).await
        }
        (Stage::Rekognition, PipelineEvent::ObjectCreated(o)) => {
            stages::choose_cover_for(a.store, a.records, a.analyzer, queue, a.notifier, &o.key)
                .await
        }
        (
            Stage::Publish,
            PipelineEvent::Message(PipelineMessage::PartRecorded { video_id, .. }),
        ) => {
            stages::publish(
                a.store,
                a.records,
                a.publisher,
                a.notifier,
                &config.understanding,
                video_id,
            )
            .await
        }
        (Stage::TranscribeStart, PipelineEvent::ObjectCreated(o)) => match a.transcriber {
            Some(transcriber) => {
                stages::transcribe_start(a.store, a.records, transcriber, a.notifier, &o.key).await
            }
            None => return Ok("no transcriber here".into()),
        },
        (Stage::TranscribeStore, PipelineEvent::ObjectCreated(o)) => {
            stages::transcribe_store(
                a.store,
                a.records,
                queue,
                a.notifier,
                &config.understanding,
                &o.key,
            )
            .await
        }
        (stage, _) => return Ok(format!("{stage} is not run by this router")),
    }?;
    Ok(handled.to_string())
}

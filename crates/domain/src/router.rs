//! The in-process router of local mode: it applies [`crate::events::route`] (the
//! rules `template.yaml` wires into S3 notifications, SQS and EventBridge) to a queue
//! of events, [`deliver`]s each to its stage, and queues what the stages send and the
//! objects they write. Like SQS with a dead-letter queue, an event whose stage fails
//! retryably is delivered again, up to [`crate::dispatch::MAX_RECEIVE_COUNT`] times.

use std::collections::VecDeque;
use std::sync::Mutex;

use tracing::debug;

use crate::dispatch::{deliver, Delivery, Dispatch, Disposition, Throttling};
use crate::error::{PortError, StageError};
use crate::events::{route, ObjectCreated, PipelineEvent, PipelineMessage};
use crate::keys::VideoId;
use crate::ports::MessageBus;
use crate::record::Stage;
use crate::stages::{Handled, IngestOptions, PipelineConfig};

/// Objects written since the last call, as S3 would announce them.
pub trait CreatedObjects {
    fn take_created(&self) -> Vec<ObjectCreated>;
}

/// What a run did, in order.
#[derive(Debug, Default)]
pub struct RunReport {
    pub deliveries: Vec<Delivery>,
    /// Events given up on after [`crate::dispatch::MAX_RECEIVE_COUNT`] deliveries, or
    /// failed for good.
    pub dead_letters: Vec<(PipelineEvent, StageError)>,
    /// The ids ingest planned or found.
    pub videos: Vec<VideoId>,
    pub ingest_failures: Vec<StageError>,
}

impl RunReport {
    fn add(&mut self, delivery: Delivery) {
        match (&delivery.result, delivery.stage) {
            (Ok(Handled::Planned(id, _) | Handled::Skipped(id, _)), Stage::Ingest) => {
                self.videos.push(id.clone())
            }
            (Err(e), Stage::Ingest) => self.ingest_failures.push(e.clone()),
            _ => {}
        }
        if let (Err(e), Disposition::Failed | Disposition::GaveUp) =
            (&delivery.result, delivery.disposition)
        {
            self.dead_letters.push((delivery.event.clone(), e.clone()));
        }
        self.deliveries.push(delivery);
    }
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
/// ingest of `first`'s upload, redeliveries included.
pub async fn run<D>(
    adapters: &D,
    config: &PipelineConfig,
    first: PipelineEvent,
    options: &IngestOptions,
) -> RunReport
where
    D: Dispatch,
    D::Store: CreatedObjects,
{
    let queue = Queue::default();
    let mut report = RunReport::default();
    queue.push(first.clone(), 1);
    let later_options = IngestOptions::default();
    while let Some((event, attempt)) = queue.pop() {
        let Some(stage) = route(&event) else {
            debug!(?event, "no stage takes this event");
            continue;
        };
        let options = if event == first {
            options
        } else {
            &later_options
        };
        let throttling = Throttling::Counted;
        let delivery = deliver(
            adapters, &queue, config, stage, event, options, attempt, throttling,
        )
        .await;
        for object in adapters.store().take_created() {
            queue.push(PipelineEvent::ObjectCreated(object), 1);
        }
        if delivery.disposition == Disposition::Redeliver {
            debug!(stage = %stage, attempt, "delivering again later");
            queue.push(delivery.event.clone(), attempt + 1);
        }
        report.add(delivery);
    }
    report
}

//! The one dispatcher: a pipeline event to its stage, for the local router and the
//! Lambda handlers alike, and the queue's rule for failures: a retryable one is
//! delivered again, up to [`MAX_RECEIVE_COUNT`] times, and then given up with the
//! failure recorded on its video.

use std::future::Future;

use tracing::warn;

use crate::error::{PortError, StageError};
use crate::events::{ObjectCreated, PipelineEvent, PipelineMessage};
use crate::keys::{self, VideoId};
use crate::ports::*;
use crate::record::Stage;
use crate::stages::{self, Handled, IngestOptions, PipelineConfig};
use crate::transcript::Transcript;

/// Deliveries of one event before it is dead-lettered (the template's
/// `maxReceiveCount`).
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// The adapters behind the ports, as one mode (or one Lambda function) wires them.
/// Every stage may record a failure, so records, notifier and store are always there;
/// the rest are there where the stage that needs them runs (`None`: that stage is not
/// run here, as a Lambda function wires only its own, or a run without a model).
pub struct Adapters<'a, S, P, R, T, A, Pb, N, Tr> {
    pub store: &'a S,
    pub records: &'a R,
    pub notifier: &'a N,
    pub prober: Option<&'a P>,
    pub transcoder: Option<&'a T>,
    pub analyzer: Option<&'a A>,
    pub publisher: Option<&'a Pb>,
    pub transcriber: Option<&'a Tr>,
}

impl<'a, S, R, N> Adapters<'a, S, Unwired, R, Unwired, Unwired, Unwired, N, Unwired> {
    /// What every stage needs; the `with_*` methods add the ports of the stages run
    /// here.
    pub fn new(store: &'a S, records: &'a R, notifier: &'a N) -> Self {
        Adapters {
            store,
            records,
            notifier,
            prober: None,
            transcoder: None,
            analyzer: None,
            publisher: None,
            transcriber: None,
        }
    }
}

// By hand: derived, they would ask every port type to be `Copy` too.
impl<S, P, R, T, A, Pb, N, Tr> Clone for Adapters<'_, S, P, R, T, A, Pb, N, Tr> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S, P, R, T, A, Pb, N, Tr> Copy for Adapters<'_, S, P, R, T, A, Pb, N, Tr> {}

impl<'a, S, P, R, T, A, Pb, N, Tr> Adapters<'a, S, P, R, T, A, Pb, N, Tr> {
    /// The same store, records and notifier with these stage ports.
    #[allow(clippy::type_complexity)]
    fn with<P2, T2, A2, Pb2, Tr2>(
        self,
        ports: (
            Option<&'a P2>,
            Option<&'a T2>,
            Option<&'a A2>,
            Option<&'a Pb2>,
            Option<&'a Tr2>,
        ),
    ) -> Adapters<'a, S, P2, R, T2, A2, Pb2, N, Tr2> {
        let (prober, transcoder, analyzer, publisher, transcriber) = ports;
        Adapters {
            store: self.store,
            records: self.records,
            notifier: self.notifier,
            prober,
            transcoder,
            analyzer,
            publisher,
            transcriber,
        }
    }
    /// With the prober ingest uses.
    pub fn with_prober<X>(self, port: &'a X) -> Adapters<'a, S, X, R, T, A, Pb, N, Tr> {
        self.with((
            Some(port),
            self.transcoder,
            self.analyzer,
            self.publisher,
            self.transcriber,
        ))
    }
    /// With the transcoder the transcode stage (and the promo) use.
    pub fn with_transcoder<X>(self, port: &'a X) -> Adapters<'a, S, P, R, X, A, Pb, N, Tr> {
        self.with((
            self.prober,
            Some(port),
            self.analyzer,
            self.publisher,
            self.transcriber,
        ))
    }
    /// With the frame analyzer the cover stage uses.
    pub fn with_analyzer<X>(self, port: &'a X) -> Adapters<'a, S, P, R, T, X, Pb, N, Tr> {
        self.with((
            self.prober,
            self.transcoder,
            Some(port),
            self.publisher,
            self.transcriber,
        ))
    }
    /// With the publisher the publish stage uses.
    pub fn with_publisher<X>(self, port: &'a X) -> Adapters<'a, S, P, R, T, A, X, N, Tr> {
        self.with((
            self.prober,
            self.transcoder,
            self.analyzer,
            Some(port),
            self.transcriber,
        ))
    }
    /// With the transcriber transcribe-start uses; `None` skips transcription.
    pub fn with_transcriber<X>(self, port: Option<&'a X>) -> Adapters<'a, S, P, R, T, A, Pb, N, X> {
        self.with((
            self.prober,
            self.transcoder,
            self.analyzer,
            self.publisher,
            port,
        ))
    }
}

/// A port that is not wired where a stage that needs it would run: the type of an
/// adapter field left `None`. It has no values, so it is never called.
#[derive(Debug, Clone, Copy)]
pub enum Unwired {}

impl MediaProber for Unwired {
    async fn probe(&self, _: &ObjectInfo) -> Result<crate::media::MediaInfo, PortError> {
        match *self {}
    }
}
impl Transcoder for Unwired {
    async fn submit(&self, _: &TranscodeJob) -> Result<Submission, PortError> {
        match *self {}
    }
    async fn submit_promo(&self, _: &PromoJob) -> Result<Submission, PortError> {
        match *self {}
    }
}
impl FrameAnalyzer for Unwired {
    async fn analyze(&self, _: &str) -> Result<FrameAnalysis, PortError> {
        match *self {}
    }
}
impl Publisher for Unwired {
    async fn publish(&self, _: &crate::record::VideoRecord) -> Result<Vec<String>, PortError> {
        match *self {}
    }
}
impl Transcriber for Unwired {
    async fn transcribe(&self, _: &str, _: &str) -> Result<Submission<Transcript>, PortError> {
        match *self {}
    }
}

/// An event on its way to its stage, with what stages read besides the ports.
#[derive(Debug, Clone, Copy)]
pub struct Routed<'e> {
    pub stage: Stage,
    pub event: &'e PipelineEvent,
    pub config: &'e PipelineConfig,
    /// What a person asked for on top of an upload (ingest only).
    pub options: &'e IngestOptions,
}

/// What the router and the handlers deliver with: [`Adapters`] whose ports have their
/// traits (the bounds written once, on the one implementation below).
pub trait Dispatch: Sync {
    type Store: ObjectReader + ObjectWriter;

    fn store(&self) -> &Self::Store;

    /// Runs the stage `to.stage` on `to.event`: the stage's own outcome, or
    /// [`Handled::Noted`] when the event is not one that stage takes or the port it
    /// needs is not wired here.
    ///
    /// # Errors
    /// The stage's [`StageError`].
    fn dispatch<B: MessageBus>(
        &self,
        bus: &B,
        to: Routed<'_>,
    ) -> impl Future<Output = Result<Handled, StageError>> + Send;

    /// Records `error` on the video as the failure of `stage`, and notifies
    /// ([`stages::record_failure`]).
    fn record_failure(
        &self,
        id: &VideoId,
        stage: Stage,
        error: StageError,
    ) -> impl Future<Output = ()> + Send;
}

impl<S, P, R, T, A, Pb, N, Tr> Dispatch for Adapters<'_, S, P, R, T, A, Pb, N, Tr>
where
    S: ObjectReader + ObjectWriter,
    P: MediaProber,
    R: VideoRecords,
    T: Transcoder,
    A: FrameAnalyzer,
    Pb: Publisher,
    N: Notifier,
    Tr: Transcriber,
{
    type Store = S;

    fn store(&self) -> &S {
        self.store
    }

    async fn dispatch<B: MessageBus>(
        &self,
        bus: &B,
        to: Routed<'_>,
    ) -> Result<Handled, StageError> {
        use PipelineEvent::{Message, ObjectCreated as Created};
        use PipelineMessage as M;
        let (stage, config, options) = (to.stage, to.config, to.options);
        let (store, records, notifier) = (self.store, self.records, self.notifier);
        let not_here = || Ok(Handled::Noted(format!("{stage} is not run here")));
        match (stage, to.event) {
            (Stage::Ingest, Created(o)) => match self.prober {
                Some(p) => {
                    stages::ingest(store, p, records, bus, notifier, config, o, options).await
                }
                None => not_here(),
            },
            (Stage::Transcode, Message(M::TranscodeRequested { video_id })) => {
                match self.transcoder {
                    Some(t) => stages::transcode(records, t, bus, notifier, video_id).await,
                    None => not_here(),
                }
            }
            (Stage::Transcode, Message(M::PromoRequested { video_id })) => match self.transcoder {
                Some(t) => stages::render_promo(records, t, bus, &config.publish, video_id).await,
                None => not_here(),
            },
            (Stage::Transcode, Message(M::JobStateChanged(change))) => {
                stages::job_state_changed(records, bus, notifier, change).await
            }
            (Stage::TranscribeStart, Created(o)) => match self.transcriber {
                Some(t) => stages::transcribe_start(store, records, t, notifier, &o.key).await,
                None => not_here(),
            },
            (Stage::TranscribeStore, Created(o)) => {
                let understanding = &config.understanding;
                stages::transcribe_store(store, records, bus, notifier, understanding, &o.key).await
            }
            (
                Stage::TranscribeStore,
                Message(M::TranscriptionFailed {
                    video_id,
                    job_name,
                    reason,
                }),
            ) => stages::transcription_failed(records, notifier, video_id, job_name, reason).await,
            (Stage::Cover, Message(M::CoverRequested { video_id })) => match self.analyzer {
                Some(an) => stages::cover(store, records, an, bus, notifier, video_id).await,
                None => not_here(),
            },
            (Stage::Publish, Message(M::PartRecorded { video_id, .. })) => match self.publisher {
                Some(p) => {
                    let understanding = &config.understanding;
                    stages::publish(
                        store,
                        records,
                        p,
                        notifier,
                        understanding,
                        &config.publish,
                        video_id,
                    )
                    .await
                }
                None => not_here(),
            },
            (stage, _) => Ok(Handled::Noted(format!("{stage} does not take this event"))),
        }
    }

    async fn record_failure(&self, id: &VideoId, stage: Stage, error: StageError) {
        stages::record_failure(self.records, self.notifier, id, stage, error).await;
    }
}

/// What the queue does with a delivery once its stage has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Handled: the event leaves the queue.
    Settled,
    /// Failed for good; the stage recorded the failure on the video. The event leaves
    /// the queue.
    Failed,
    /// Failed in a way a later delivery may fix: deliver it again.
    Redeliver,
    /// A service's quota refused the call (throttling): deliver it again after a
    /// delay, without counting the delivery against giving up. The chain slows down
    /// under load and never fails a video for it.
    Deferred,
    /// Still failing on the last delivery the queue allows: the failure is recorded on
    /// the video and the event goes to the dead-letter queue.
    GaveUp,
}

/// One delivery of an event to its stage, and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub stage: Stage,
    pub event: PipelineEvent,
    /// The video the event is about, where it names one.
    pub video_id: Option<VideoId>,
    pub result: Result<Handled, StageError>,
    pub disposition: Disposition,
}

/// How a queue takes a delivery a service's quota refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttling {
    /// Back on the queue after a delay, not counted against giving up (the cloud
    /// functions send a delayed copy to their own queue).
    Deferred,
    /// Delivered again like any retryable failure, and counted (locally, where
    /// nothing throttles but a test's fake, which must not keep a run going for ever).
    Counted,
}

/// Delivers `event` to `stage` ([`Dispatch::dispatch`]) as delivery number
/// `receive_count` (1-based) and applies the queue's rule: a retryable failure on
/// delivery [`MAX_RECEIVE_COUNT`] is recorded on the video as "gave up after N
/// deliveries", except throttling where the queue defers it ([`Throttling::Deferred`]):
/// that is [`Disposition::Deferred`] however many times it comes.
#[allow(clippy::too_many_arguments)]
pub async fn deliver<D: Dispatch, B: MessageBus>(
    adapters: &D,
    bus: &B,
    config: &PipelineConfig,
    stage: Stage,
    event: PipelineEvent,
    options: &IngestOptions,
    receive_count: u32,
    throttling: Throttling,
) -> Delivery {
    let to = Routed {
        stage,
        event: &event,
        config,
        options,
    };
    let result = adapters.dispatch(bus, to).await;
    let video_id = video_of(config, &event);
    let disposition = match &result {
        Ok(_) => Disposition::Settled,
        Err(e) if !e.is_retryable() => Disposition::Failed,
        Err(e) if e.is_throttled() && throttling == Throttling::Deferred => Disposition::Deferred,
        Err(_) if receive_count < MAX_RECEIVE_COUNT => Disposition::Redeliver,
        Err(e) => {
            warn!(stage = %stage, error = %e, "given up after {receive_count} deliveries");
            if let Some(id) = &video_id {
                let reason = StageError::Port(PortError::Failed(format!(
                    "gave up after {receive_count} deliveries: {e}"
                )));
                adapters.record_failure(id, stage, reason).await;
            }
            Disposition::GaveUp
        }
    };
    Delivery {
        stage,
        event,
        video_id,
        result,
        disposition,
    }
}

/// The video an event is about: a message's, an output key's, or an upload's own id
/// (a sidecar has none: its outcome is its video's).
pub fn video_of(config: &PipelineConfig, event: &PipelineEvent) -> Option<VideoId> {
    match event {
        PipelineEvent::Message(m) => Some(m.video_id().clone()),
        PipelineEvent::ObjectCreated(o) => upload_video_of(config, o),
    }
}

fn upload_video_of(config: &PipelineConfig, o: &ObjectCreated) -> Option<VideoId> {
    if !o.key.starts_with(keys::UPLOADS_PREFIX) {
        return keys::video_id_in(&o.key);
    }
    (keys::extension_of(&o.key).as_deref() != Some("json"))
        .then(|| stages::video_id_for(config.id_scheme, o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{MemRecords, MemStore, Recorder};
    use crate::record::{VideoRecord, VideoStatus};

    #[tokio::test]
    async fn an_unwired_port_is_noted_and_the_last_retry_is_recorded() {
        let (store, records, recorder) = (
            MemStore::default(),
            MemRecords::default(),
            Recorder::default(),
        );
        let adapters = Adapters::new(&store, &records, &recorder);
        let config = PipelineConfig::default();
        let options = IngestOptions::default();
        let id = VideoId::parse("0123456789abcdef").unwrap();
        records
            .create(&VideoRecord::new(id.clone(), "uploads/a.mp4", "a"))
            .await
            .unwrap();
        let request = PipelineEvent::Message(PipelineMessage::TranscodeRequested {
            video_id: id.clone(),
        });
        let d = deliver(
            &adapters,
            &recorder,
            &config,
            Stage::Transcode,
            request,
            &options,
            1,
            Throttling::Counted,
        )
        .await;
        assert_eq!(
            d.result,
            Ok(Handled::Noted("transcode is not run here".into()))
        );
        assert_eq!(
            (d.disposition, d.video_id.as_ref()),
            (Disposition::Settled, Some(&id))
        );
        // The cover before the transcode is recorded: not ready, delivered again, and
        // recorded as given up on the last delivery.
        let frame = PipelineEvent::Message(PipelineMessage::CoverRequested {
            video_id: id.clone(),
        });
        let analyzer = crate::fakes::FakeAnalyzer { store: &store };
        let adapters = Adapters::new(&store, &records, &recorder).with_analyzer(&analyzer);
        for (receive, want) in [
            (1, Disposition::Redeliver),
            (MAX_RECEIVE_COUNT, Disposition::GaveUp),
        ] {
            let d = deliver(
                &adapters,
                &recorder,
                &config,
                Stage::Cover,
                frame.clone(),
                &options,
                receive,
                Throttling::Counted,
            )
            .await;
            assert!(
                matches!(d.result, Err(StageError::NotReady(_))),
                "{:?}",
                d.result
            );
            assert_eq!(d.disposition, want);
        }
        let rec = records.get(&id).await.unwrap().unwrap();
        assert_eq!(rec.status, VideoStatus::Failed);
        let failure = rec.failure.unwrap();
        assert_eq!(failure.stage, Stage::Cover);
        assert!(
            failure.reason.starts_with("gave up after 5 deliveries"),
            "{}",
            failure.reason
        );
        assert_eq!(recorder.failures().len(), 1);
    }
}

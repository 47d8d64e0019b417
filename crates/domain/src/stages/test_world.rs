//! The one test world every stage's tests share: the fakes wired as the local
//! router wires the adapters, and helpers to drive a talk through the stages.

use crate::dispatch::Adapters;
use crate::error::StageError;
use crate::events::{JobKind, JobOutcome, JobStateChange, ObjectCreated, PipelineEvent};
use crate::fakes::*;
use crate::keys::VideoId;
use crate::media::MediaInfo;
use crate::record::VideoStatus;
use crate::router::{run, RunReport};
use crate::stages::{self, Handled, IngestOptions, PipelineConfig};

pub(crate) fn media(duration_s: f64, video: bool, audio: bool) -> MediaInfo {
    media_info(video.then_some((1280, 720)), 25.0, duration_s, audio)
}

pub(crate) struct World {
    pub(crate) store: MemStore,
    pub(crate) prober: FakeProber,
    pub(crate) records: MemRecords,
    pub(crate) recorder: Recorder,
    pub(crate) config: PipelineConfig,
    pub(crate) transcriber: Option<FakeTranscriber>,
}

impl World {
    pub(crate) fn new() -> World {
        World {
            store: MemStore::default(),
            prober: FakeProber::default(),
            records: MemRecords::default(),
            recorder: Recorder::default(),
            config: PipelineConfig::default(),
            transcriber: None,
        }
    }
    pub(crate) fn upload(
        &self,
        key: &str,
        bytes: &[u8],
        probed: Option<MediaInfo>,
    ) -> ObjectCreated {
        if let Some(m) = probed {
            self.prober.media.lock().unwrap().insert(key.into(), m);
        }
        let event = self.store.insert(key, bytes);
        self.store.take_created();
        event
    }
    /// Uploads `uploads/talk.mp4` of `duration_s` with video and audio and runs it
    /// until its renditions job is submitted to `transcoder`: the video's id.
    pub(crate) async fn submitted_talk(
        &self,
        transcoder: &FakeTranscoder<'_>,
        duration_s: f64,
    ) -> VideoId {
        let event = self.upload(
            "uploads/talk.mp4",
            b"v",
            Some(media(duration_s, true, true)),
        );
        self.run(transcoder, event).await
    }

    pub(crate) async fn run_with(
        &self,
        transcoder: &FakeTranscoder<'_>,
        event: ObjectCreated,
        options: &IngestOptions,
    ) -> RunReport {
        let analyzer = FakeAnalyzer { store: &self.store };
        let adapters = Adapters {
            store: &self.store,
            prober: Some(&self.prober),
            records: &self.records,
            transcoder: Some(transcoder),
            analyzer: Some(&analyzer),
            publisher: Some(&self.recorder),
            notifier: &self.recorder,
            transcriber: self.transcriber.as_ref(),
        };
        run(
            &adapters,
            &self.config,
            PipelineEvent::ObjectCreated(event),
            options,
        )
        .await
    }
    pub(crate) fn record(&self, id: &VideoId) -> crate::record::VideoRecord {
        self.records
            .rows
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .expect("record")
    }

    /// The audio keys the transcriber was asked to transcribe, in order.
    pub(crate) fn transcriber_calls(&self) -> Vec<String> {
        let transcriber = self.transcriber.as_ref().expect("a transcriber");
        transcriber.calls.lock().unwrap().clone()
    }
}

pub(crate) fn dark_first_frames(i: u32) -> u8 {
    if i < 3 {
        5
    } else {
        100 + i as u8
    }
}

pub(crate) const TALK: &str = "Welcome to this talk about machine learning in production. \
    Machine learning models drift when the data changes, so monitoring machine learning systems is essential. \
    The weather was nice yesterday. We will look at three examples of model monitoring from real projects. \
    Good metrics tell a team where it stands. Monitoring catches drift before users do. Thank you all for coming.";

pub(crate) fn speaking_world(transcriber: FakeTranscriber) -> World {
    let mut w = World::new();
    w.config.transcription = true;
    w.transcriber = Some(transcriber);
    w
}

impl World {
    /// Runs transcribe-start and transcribe-store for the video's MP3, as the MP3's
    /// and the transcript's object-created events would. Whether there was an MP3.
    pub(crate) async fn run_transcription(&self, id: &VideoId) -> bool {
        let Some(transcriber) = self.transcriber.as_ref() else {
            return false;
        };
        if self
            .store
            .objects
            .lock()
            .unwrap()
            .get(&self.record(id).keys().audio_mp3())
            .is_none()
        {
            return false;
        }
        stages::transcribe_start(
            &self.store,
            &self.records,
            transcriber,
            &self.recorder,
            &self.record(id).keys().audio_mp3(),
        )
        .await
        .unwrap();
        self.transcribe_store(id).await.unwrap();
        true
    }

    /// Transcribe-store on the video's `transcript.json`, as its creation would run it.
    pub(crate) async fn transcribe_store(&self, id: &VideoId) -> Result<Handled, StageError> {
        stages::transcribe_store(
            &self.store,
            &self.records,
            &self.recorder,
            &self.recorder,
            &self.config.understanding,
            &self.record(id).keys().transcript_json(),
        )
        .await
    }

    /// Runs `event` through the router: the id of the video ingest found.
    pub(crate) async fn run(
        &self,
        transcoder: &FakeTranscoder<'_>,
        event: ObjectCreated,
    ) -> VideoId {
        self.run_with(transcoder, event, &IngestOptions::default())
            .await
            .videos[0]
            .clone()
    }

    /// Runs `event` through the router and checks the video was published with
    /// nothing dead-lettered: the report and the video's id.
    pub(crate) async fn run_to_published(
        &self,
        transcoder: &FakeTranscoder<'_>,
        event: ObjectCreated,
    ) -> (RunReport, VideoId) {
        let report = self
            .run_with(transcoder, event, &IngestOptions::default())
            .await;
        assert!(report.dead_letters.is_empty(), "{:?}", report.dead_letters);
        let id = report.videos[0].clone();
        let rec = self.record(&id);
        assert_eq!(rec.status, VideoStatus::Published, "{:?}", rec.stages);
        (report, id)
    }

    /// The transcode stage on `change`.
    pub(crate) async fn job_state_changed(
        &self,
        change: &JobStateChange,
    ) -> Result<Handled, StageError> {
        stages::job_state_changed(&self.records, &self.recorder, &self.recorder, change).await
    }

    /// Writes the outputs `transcoder` makes for the video's plan and records the
    /// renditions job's COMPLETE, as MediaConvert would announce it: the change.
    pub(crate) async fn complete_renditions(
        &self,
        transcoder: &FakeTranscoder<'_>,
        id: &VideoId,
    ) -> JobStateChange {
        let complete = self.complete_change(transcoder, id);
        self.job_state_changed(&complete).await.unwrap();
        complete
    }

    /// Writes the outputs `transcoder` makes for the video's current plan: the
    /// renditions job's COMPLETE, as MediaConvert would announce it.
    pub(crate) fn complete_change(
        &self,
        transcoder: &FakeTranscoder<'_>,
        id: &VideoId,
    ) -> JobStateChange {
        let record = self.record(id);
        let outputs = transcoder.write_outputs(&record.keys(), record.plan.as_ref().unwrap());
        self.store.take_created();
        JobStateChange {
            video_id: id.clone(),
            job_id: format!("job-{id}-{}", record.generation),
            outcome: JobOutcome::Complete { outputs },
            job: JobKind::Renditions,
            generation: record.generation,
        }
    }

    /// The cover stage on a cover request for the video.
    pub(crate) async fn cover(&self, id: &VideoId) -> Result<Handled, StageError> {
        let analyzer = FakeAnalyzer { store: &self.store };
        stages::cover(
            &self.store,
            &self.records,
            &analyzer,
            &self.recorder,
            &self.recorder,
            id,
        )
        .await
    }

    /// The publish stage for the video.
    pub(crate) async fn publish(&self, id: &VideoId) -> Result<Handled, StageError> {
        let understanding = &self.config.understanding;
        stages::publish(
            &self.store,
            &self.records,
            &self.recorder,
            &self.recorder,
            understanding,
            &self.config.publish,
            id,
        )
        .await
    }

    /// Writes the sidecar `key` and runs its object-created event (in the bucket of
    /// `upload`'s event): the report.
    pub(crate) async fn sidecar_arrives(
        &self,
        transcoder: &FakeTranscoder<'_>,
        upload: &ObjectCreated,
        key: &str,
        bytes: &[u8],
    ) -> RunReport {
        self.store.insert(key, bytes);
        let event = ObjectCreated {
            key: key.into(),
            ..upload.clone()
        };
        self.run_with(transcoder, event, &IngestOptions::default())
            .await
    }
}

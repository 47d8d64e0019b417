//! The stages driven through the router on the fakes: the whole chain, repeats, and
//! each kind of bad input.

use crate::error::{PortError, StageError};
use crate::events::{JobKind, JobStateChange, ObjectCreated, PipelineEvent, PipelineMessage};
use crate::fakes::*;
use crate::keys::{self, VideoId};
use crate::media::MediaInfo;
use crate::ports::JobOutcome;
use crate::record::{Stage, StageStatus, VideoStatus};
use crate::router::{run, Adapters, RunReport};
use crate::stages::{self, IngestOptions, PipelineConfig};

fn media(duration_s: f64, video: bool, audio: bool) -> MediaInfo {
    media_info(video.then_some((1280, 720)), 25.0, duration_s, audio)
}

struct World {
    store: MemStore,
    prober: FakeProber,
    records: MemRecords,
    recorder: Recorder,
    config: PipelineConfig,
    transcriber: Option<FakeTranscriber>,
}

impl World {
    fn new() -> World {
        World {
            store: MemStore::default(),
            prober: FakeProber::default(),
            records: MemRecords::default(),
            recorder: Recorder::default(),
            config: PipelineConfig::default(),
            transcriber: None,
        }
    }
    fn upload(&self, key: &str, bytes: &[u8], probed: Option<MediaInfo>) -> ObjectCreated {
        if let Some(m) = probed {
            self.prober.media.lock().unwrap().insert(key.into(), m);
        }
        let event = self.store.insert(key, bytes);
        self.store.take_created();
        event
    }
    /// Uploads `uploads/talk.mp4` of `duration_s` with video and audio and runs it
    /// until its renditions job is submitted to `transcoder`: the video's id.
    async fn submitted_talk(&self, transcoder: &FakeTranscoder<'_>, duration_s: f64) -> VideoId {
        let event = self.upload(
            "uploads/talk.mp4",
            b"v",
            Some(media(duration_s, true, true)),
        );
        self.run_with(transcoder, event, &IngestOptions::default())
            .await
            .videos[0]
            .clone()
    }

    async fn run_with(
        &self,
        transcoder: &FakeTranscoder<'_>,
        event: ObjectCreated,
        options: &IngestOptions,
    ) -> RunReport {
        let analyzer = FakeAnalyzer { store: &self.store };
        let adapters = Adapters {
            store: &self.store,
            prober: &self.prober,
            records: &self.records,
            transcoder,
            analyzer: &analyzer,
            publisher: &self.recorder,
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
    fn record(&self, id: &VideoId) -> crate::record::VideoRecord {
        self.records
            .rows
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .expect("record")
    }
}

fn dark_first_frames(i: u32) -> u8 {
    if i < 3 {
        5
    } else {
        100 + i as u8
    }
}

#[tokio::test]
async fn an_upload_runs_the_whole_chain_once() {
    let w = World::new();
    w.store.insert(
        "uploads/talk.json",
        br#"{"title":"Metrics","speakers":[{"name":"Ada","email":"ada@x.org"}]}"#,
    );
    let event = w.upload(
        "uploads/talk.mp4",
        b"video-bytes",
        Some(media(20.0, true, true)),
    );
    let mut transcoder = FakeTranscoder::new(&w.store);
    transcoder.frame_fill = dark_first_frames;
    let report = w
        .run_with(&transcoder, event.clone(), &IngestOptions::default())
        .await;
    assert!(report.dead_letters.is_empty(), "{:?}", report.dead_letters);
    let id = report.videos[0].clone();
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published, "{:?}", rec.stages);
    assert_eq!(rec.stage(Stage::TranscribeStart), StageStatus::Skipped);
    assert_eq!(
        rec.outputs
            .iter()
            .filter(|o| o.kind == crate::record::OutputKind::Rendition)
            .count(),
        3
    );
    // The cover is the best frame outside the fades and not one of the dark ones.
    let cover_frame = rec
        .frames
        .iter()
        .filter(|f| f.rejected.is_none())
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .unwrap();
    assert!(cover_frame.time_s >= 3.0 && cover_frame.time_s <= 17.0);
    let objects = w.store.objects.lock().unwrap().clone();
    assert_eq!(
        objects.get(&keys::cover(&id)),
        objects.get(&cover_frame.key)
    );
    assert!(rec
        .frames
        .iter()
        .filter(|f| keys::frame_capture_index(&f.key).unwrap() < 3)
        .all(|f| f.rejected.is_some()));
    assert_eq!(rec.title(), "Metrics");
    assert!(w.store.keys().contains(&keys::manifest(&id)));
    assert_eq!(w.recorder.published_count(), 1);
    assert_eq!(w.recorder.notified_published.lock().unwrap().len(), 1);
    // One publish although the transcode and the cover both announced their part.
    let publishes = report
        .deliveries
        .iter()
        .filter(|d| d.stage == Stage::Publish)
        .count();
    assert_eq!(publishes, 2);

    // The same event again: same id, no second job, no second publish.
    let again = w
        .run_with(&transcoder, event, &IngestOptions::default())
        .await;
    assert_eq!(again.videos, vec![id.clone()]);
    assert_eq!(transcoder.submitted.lock().unwrap().len(), 1);
    assert_eq!(w.recorder.published_count(), 1);
    assert_eq!(w.record(&id).version, rec.version);
}

#[tokio::test]
async fn a_changed_clip_replans_and_force_redoes() {
    let w = World::new();
    let event = w.upload("uploads/talk.mp4", b"v", Some(media(30.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let first = w
        .run_with(&transcoder, event.clone(), &IngestOptions::default())
        .await;
    let id = first.videos[0].clone();
    let cut = IngestOptions {
        clip: crate::plan::ClipRequest {
            start_s: Some(5.0),
            end_s: Some(15.0),
        },
        ..Default::default()
    };
    let second = w.run_with(&transcoder, event.clone(), &cut).await;
    assert_eq!(second.videos, vec![id.clone()]);
    assert_eq!(transcoder.submitted.lock().unwrap().len(), 2);
    assert_eq!(w.record(&id).plan.unwrap().clip.duration_s(), 10.0);
    let forced = IngestOptions { force: true, ..cut };
    w.run_with(&transcoder, event, &forced).await;
    assert_eq!(transcoder.submitted.lock().unwrap().len(), 3);
    assert_eq!(w.recorder.published_count(), 3);
}

async fn expect_ingest_failure(w: &World, event: ObjectCreated, needle: &str) -> VideoId {
    let transcoder = FakeTranscoder::new(&w.store);
    let report = w
        .run_with(&transcoder, event.clone(), &IngestOptions::default())
        .await;
    assert_eq!(
        report.ingest_failures.len(),
        1,
        "{needle}: {:?}",
        report.deliveries
    );
    let message = report.ingest_failures[0].to_string();
    let names_file =
        message.contains(&event.key) || message.contains(&keys::sidecar_key_for(&event.key));
    assert!(message.contains(needle) && names_file, "{message}");
    assert!(transcoder.submitted.lock().unwrap().is_empty());
    let failure = w.recorder.failures().pop().expect("a failure notification");
    let rec = w.record(&failure.0);
    assert_eq!(rec.status, VideoStatus::Failed);
    assert_eq!(rec.failure.as_ref().unwrap().stage, Stage::Ingest);
    assert!(rec.failure.unwrap().reason.contains(needle));
    // A repeated event records nothing new and tells nobody twice.
    let before = w.recorder.failures().len();
    w.run_with(&transcoder, event, &IngestOptions::default())
        .await;
    assert_eq!(w.recorder.failures().len(), before);
    failure.0
}

#[tokio::test]
async fn each_kind_of_bad_upload_fails_its_own_video_only() {
    let w = World::new();
    let good = w.upload("uploads/good.mp4", b"good", Some(media(10.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let good_id = w
        .run_with(&transcoder, good, &IngestOptions::default())
        .await
        .videos[0]
        .clone();

    let empty = w.upload("uploads/empty.mp4", b"", None);
    expect_ingest_failure(&w, empty, "empty (0 bytes)").await;
    let text = w.upload("uploads/notes.txt", b"hello", None);
    expect_ingest_failure(&w, text, "not a video or audio file (extension .txt)").await;
    let garbage = w.upload("uploads/garbage.mp4", b"not media at all", None);
    expect_ingest_failure(&w, garbage, "not a readable media file").await;
    let sneaky = w.upload("uploads/../secret.mp4", b"x", Some(media(10.0, true, true)));
    expect_ingest_failure(&w, sneaky, "'..' path segment").await;
    w.store.insert("uploads/badside.json", b"{\"title\": ");
    let badside = w.upload("uploads/badside.mp4", b"bs", Some(media(10.0, true, true)));
    expect_ingest_failure(&w, badside, "invalid JSON").await;
    w.store
        .insert("uploads/backwards.json", br#"{"start": 8, "end": 4}"#);
    let backwards = w.upload(
        "uploads/backwards.mp4",
        b"bw",
        Some(media(10.0, true, true)),
    );
    expect_ingest_failure(&w, backwards, "not before end").await;
    let missing = ObjectCreated {
        bucket: "mem".into(),
        key: "uploads/gone.mp4".into(),
        size_bytes: 5,
        etag: None,
        version_id: None,
    };
    expect_ingest_failure(&w, missing, "no such object").await;
    let small = PipelineConfig {
        max_upload_bytes: 3,
        ..PipelineConfig::default()
    };
    let w2 = World {
        config: small,
        ..World::new()
    };
    let big = w2.upload("uploads/big.mp4", b"four", Some(media(10.0, true, true)));
    expect_ingest_failure(&w2, big, "over the upload limit").await;

    // The good video is untouched by all of it.
    assert_eq!(w.record(&good_id).status, VideoStatus::Published);
}

#[tokio::test]
async fn a_fixed_sidecar_recovers_a_failed_video() {
    let w = World::new();
    w.store.insert("uploads/t.json", b"{oops");
    let event = w.upload("uploads/t.mp4", b"t", Some(media(10.0, true, true)));
    let id = expect_ingest_failure(&w, event.clone(), "invalid JSON").await;
    w.store.insert("uploads/t.json", br#"{"title":"Fixed"}"#);
    let transcoder = FakeTranscoder::new(&w.store);
    w.run_with(&transcoder, event, &IngestOptions::default())
        .await;
    let rec = w.record(&id);
    assert_eq!((rec.status, rec.failure), (VideoStatus::Published, None));
}

#[tokio::test]
async fn a_sidecar_arriving_after_its_video_replans_it_and_one_alone_waits() {
    let w = World::new();
    let event = w.upload("uploads/late.mp4", b"late", Some(media(30.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let id = w
        .run_with(&transcoder, event.clone(), &IngestOptions::default())
        .await
        .videos[0]
        .clone();
    assert_eq!(w.record(&id).title(), "late");

    w.store.insert(
        "uploads/late.json",
        br#"{"title":"Late sidecar","start":5,"end":20}"#,
    );
    let sidecar_event = ObjectCreated {
        key: "uploads/late.json".into(),
        ..event.clone()
    };
    let report = w
        .run_with(&transcoder, sidecar_event, &IngestOptions::default())
        .await;
    assert!(
        !report.videos.is_empty() && report.videos.iter().all(|v| *v == id),
        "the same video, not a new one: {:?}",
        report.videos
    );
    let rec = w.record(&id);
    assert_eq!(rec.title(), "Late sidecar");
    assert_eq!(rec.plan.as_ref().unwrap().clip.start_s, 5.0);
    assert_eq!(rec.status, VideoStatus::Published);

    // A sidecar with no video beside it is noted, and a broken one is refused.
    w.store
        .insert("uploads/alone.json", br#"{"title":"Alone"}"#);
    let alone = ObjectCreated {
        key: "uploads/alone.json".into(),
        ..event.clone()
    };
    let report = w
        .run_with(&transcoder, alone, &IngestOptions::default())
        .await;
    assert!(report.videos.is_empty() && report.ingest_failures.is_empty());
    w.store.insert("uploads/broken.json", b"{nope");
    let broken = ObjectCreated {
        key: "uploads/broken.json".into(),
        ..event
    };
    let report = w
        .run_with(&transcoder, broken, &IngestOptions::default())
        .await;
    assert!(
        report.ingest_failures[0]
            .to_string()
            .contains("uploads/broken.json"),
        "{:?}",
        report.ingest_failures
    );
}

#[tokio::test]
async fn audio_only_and_silent_video_get_the_outputs_they_can() {
    let w = World::new();
    let podcast = w.upload(
        "uploads/podcast.wav",
        b"wav",
        Some(media(60.0, false, true)),
    );
    let transcoder = FakeTranscoder::new(&w.store);
    let id = w
        .run_with(&transcoder, podcast, &IngestOptions::default())
        .await
        .videos[0]
        .clone();
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published);
    assert_eq!(rec.stage(Stage::Rekognition), StageStatus::Skipped);
    assert!(rec
        .outputs
        .iter()
        .all(|o| o.kind == crate::record::OutputKind::Mp3));

    let silent = w.upload(
        "uploads/silent.mp4",
        b"silent",
        Some(media(10.0, true, false)),
    );
    let id = w
        .run_with(&transcoder, silent, &IngestOptions::default())
        .await
        .videos[0]
        .clone();
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published);
    assert_eq!(rec.stage(Stage::TranscribeStart).as_str(), "skipped");
    assert!(rec
        .outputs
        .iter()
        .all(|o| o.kind != crate::record::OutputKind::Mp3));
    assert!(rec.cover_key.is_some());
}

#[tokio::test]
async fn a_job_error_fails_the_video_with_the_job_reason() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    assert_eq!(w.record(&id).stage(Stage::Transcode), StageStatus::Running);
    let change = JobStateChange {
        video_id: id.clone(),
        job_id: format!("job-{id}"),
        outcome: JobOutcome::Error {
            code: Some(1030),
            message: "Unsupported codec".into(),
        },
        job: JobKind::Renditions,
    };
    let err = stages::job_state_changed(&w.records, &w.recorder, &w.recorder, &change)
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    let rec = w.record(&id);
    assert_eq!(rec.failure.as_ref().unwrap().stage, Stage::Transcode);
    assert!(rec.failure.unwrap().reason.contains("1030"));
    // A stale COMPLETE for the same job afterwards changes nothing.
    let late = JobStateChange {
        outcome: JobOutcome::Complete { outputs: vec![] },
        ..change
    };
    let handled = stages::job_state_changed(&w.records, &w.recorder, &w.recorder, &late)
        .await
        .unwrap();
    assert!(matches!(handled, stages::Handled::Skipped(..)));
    assert_eq!(w.record(&id).status, VideoStatus::Failed);
}

#[tokio::test]
async fn frames_before_the_job_completes_are_retried_then_dead_lettered() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    // MediaConvert writes a frame; its COMPLETE event never comes.
    w.store.insert(&keys::frame_capture(&id, 0), &[100]);
    let frame_event = w.store.take_created().pop().unwrap();
    let analyzer = FakeAnalyzer { store: &w.store };
    let adapters = Adapters {
        store: &w.store,
        prober: &w.prober,
        records: &w.records,
        transcoder: &transcoder,
        analyzer: &analyzer,
        publisher: &w.recorder,
        notifier: &w.recorder,
        transcriber: None::<&FakeTranscriber>,
    };
    let report = run(
        &adapters,
        &w.config,
        PipelineEvent::ObjectCreated(frame_event),
        &IngestOptions::default(),
    )
    .await;
    assert_eq!(
        report.deliveries.len(),
        crate::router::MAX_RECEIVE_COUNT as usize
    );
    assert!(matches!(report.dead_letters[0].1, StageError::NotReady(_)));
    let rec = w.record(&id);
    assert_eq!(rec.failure.unwrap().stage, Stage::Rekognition);
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
        crate::router::MAX_RECEIVE_COUNT as usize
    );
    let rec = w.record(&id);
    assert_eq!(rec.failure.unwrap().stage, Stage::Transcode);
}

#[tokio::test]
async fn publish_waits_for_every_part_and_wins_once() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    let waiting = stages::publish(
        &w.store,
        &w.records,
        &w.recorder,
        &w.recorder,
        &w.config.understanding,
        &id,
    )
    .await
    .unwrap();
    assert_eq!(
        waiting,
        stages::Handled::Waiting(id.clone(), vec![Stage::Transcode, Stage::Rekognition])
    );
    let outputs = transcoder.write_outputs(&id, w.record(&id).plan.as_ref().unwrap());
    let complete = JobStateChange {
        video_id: id.clone(),
        job_id: format!("job-{id}"),
        outcome: JobOutcome::Complete { outputs },
        job: JobKind::Renditions,
    };
    stages::job_state_changed(&w.records, &w.recorder, &w.recorder, &complete)
        .await
        .unwrap();
    // Duplicate COMPLETE: ignored.
    assert!(matches!(
        stages::job_state_changed(&w.records, &w.recorder, &w.recorder, &complete)
            .await
            .unwrap(),
        stages::Handled::Skipped(..)
    ));
    let analyzer = FakeAnalyzer { store: &w.store };
    for i in 0..2 {
        stages::choose_cover_for(
            &w.store,
            &w.records,
            &analyzer,
            &w.recorder,
            &w.recorder,
            &keys::frame_capture(&id, i),
        )
        .await
        .unwrap();
    }
    let parts: Vec<_> = w
        .recorder
        .take_messages()
        .into_iter()
        .filter(|m| matches!(m, PipelineMessage::PartRecorded { .. }))
        .collect();
    assert_eq!(parts.len(), 2, "{parts:?}");
    for _ in 0..3 {
        stages::publish(
            &w.store,
            &w.records,
            &w.recorder,
            &w.recorder,
            &w.config.understanding,
            &id,
        )
        .await
        .unwrap();
    }
    assert_eq!(w.recorder.published_count(), 1);
    assert_eq!(w.record(&id).links, vec![format!("mem://{id}")]);
}

const TALK: &str = "Welcome to this talk about machine learning in production. \
    Machine learning models drift when the data changes, so monitoring machine learning systems is essential. \
    The weather was nice yesterday. We will look at three examples of model monitoring from real projects. \
    Good metrics tell a team where it stands. Monitoring catches drift before users do. Thank you all for coming.";

fn speaking_world(transcriber: FakeTranscriber) -> World {
    let mut w = World::new();
    w.config.transcription = true;
    w.transcriber = Some(transcriber);
    w
}

#[tokio::test]
async fn speech_gives_a_transcript_captions_tags_description_and_promo() {
    let w = speaking_world(FakeTranscriber::speaking(TALK, 3.5));
    w.store.insert("uploads/talk.json", br#"{"title":"Models in production","speakers":[{"name":"Ada"},{"name":"Grace"},{"name":"Alan"}],"tags":["MLOps"]}"#);
    let event = w.upload("uploads/talk.mp4", b"v", Some(media(60.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let report = w
        .run_with(&transcoder, event.clone(), &IngestOptions::default())
        .await;
    assert!(report.dead_letters.is_empty(), "{:?}", report.dead_letters);
    let id = report.videos[0].clone();
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published, "{:?}", rec.stages);
    assert_eq!(rec.stage(Stage::TranscribeStart), StageStatus::Done);
    assert_eq!(
        w.transcriber
            .as_ref()
            .unwrap()
            .calls
            .lock()
            .unwrap()
            .as_slice(),
        [keys::audio_mp3(&id)]
    );
    for name in [
        "transcript.json",
        "transcript.txt",
        "captions.srt",
        "captions.vtt",
    ] {
        assert!(
            w.store.keys().contains(&keys::transcript_file(&id, name)),
            "{name}"
        );
    }
    let speech = rec.speech.as_ref().unwrap();
    assert!(
        speech
            .keywords
            .iter()
            .any(|k| k.to_lowercase().contains("machine learning")),
        "{:?}",
        speech.keywords
    );
    assert_eq!(rec.hashtags[0], "#MLOps");
    assert!(
        rec.hashtags.iter().any(|t| t == "#MachineLearning"),
        "{:?}",
        rec.hashtags
    );
    let description = rec.description.as_ref().unwrap();
    assert!(
        description.starts_with("Models in production\n\n"),
        "{description}"
    );
    assert!(
        description.contains("Speakers: Ada, Grace and Alan"),
        "{description}"
    );
    assert!(description.contains("#MLOps"), "{description}");
    let promo = speech.promo.as_ref().unwrap();
    assert!(promo.duration_s() <= 30.0 && !promo.segments.is_empty());
    assert!(promo
        .segments
        .iter()
        .all(|s| s.start_s >= 3.0 && s.end_s <= 57.0));
    // The promo clip was rendered from that plan before publishing, and is recorded.
    assert_eq!(transcoder.promos.lock().unwrap().len(), 1);
    assert_eq!(
        transcoder.promos.lock().unwrap()[0].segments,
        promo.segments
    );
    assert_eq!(rec.promo_render.as_ref().unwrap().status, StageStatus::Done);
    assert!(rec
        .outputs
        .iter()
        .any(|o| o.kind == crate::record::OutputKind::Promo && o.key == keys::promo(&id)));

    // The same transcript announced again changes nothing.
    let again = stages::transcribe_store(
        &w.store,
        &w.records,
        &w.recorder,
        &w.recorder,
        &w.config.understanding,
        &keys::transcript_json(&id),
    )
    .await
    .unwrap();
    assert!(matches!(again, stages::Handled::Skipped(..)));
    assert_eq!(w.recorder.published_count(), 1);
}

#[tokio::test]
async fn silence_succeeds_with_no_speech_tags() {
    let w = speaking_world(FakeTranscriber::speaking("", 0.0));
    let event = w.upload("uploads/quiet.mp4", b"q", Some(media(20.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let id = w
        .run_with(&transcoder, event, &IngestOptions::default())
        .await
        .videos[0]
        .clone();
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published);
    let speech = rec.speech.unwrap();
    assert_eq!(
        (speech.word_count, speech.keywords.len(), speech.promo),
        (0, 0, None)
    );
    assert_eq!(
        rec.hashtags,
        vec!["#Person"],
        "only the visual label, no speech tags"
    );
    let srt = w
        .store
        .objects
        .lock()
        .unwrap()
        .get(&keys::transcript_file(&id, "captions.srt"))
        .cloned()
        .unwrap();
    assert!(srt.is_empty());
}

#[tokio::test]
async fn low_confidence_speech_is_kept_and_marked_without_tags() {
    let mut t = FakeTranscriber::speaking(
        "Das Wetter ist heute sehr schön und wir gehen spazieren.",
        1.0,
    );
    t.transcript.low_confidence = true;
    let w = speaking_world(t);
    let event = w.upload("uploads/de.mp4", b"d", Some(media(20.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let id = w
        .run_with(&transcoder, event, &IngestOptions::default())
        .await
        .videos[0]
        .clone();
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published);
    let speech = rec.speech.unwrap();
    assert!(speech.low_confidence && speech.word_count > 5 && speech.keywords.is_empty());
}

#[tokio::test]
async fn a_malformed_or_failed_transcript_fails_the_video_with_the_reason() {
    for (bytes, reason) in [
        (&b"{\"results\": "[..], "not Amazon Transcribe output JSON"),
        (&br#"{"jobName":"vidpipe-x","status":"FAILED","failure_reason":"The media format is not supported"}"#[..], "The media format is not supported"),
    ] {
        let mut t = FakeTranscriber::speaking("unused", 0.0);
        t.asynchronous = true; // like Amazon Transcribe: the document comes later
        let w = speaking_world(t);
        let event = w.upload("uploads/talk.mp4", b"v", Some(media(20.0, true, true)));
        let transcoder = FakeTranscoder::new(&w.store);
        let id = w.run_with(&transcoder, event, &IngestOptions::default()).await.videos[0].clone();
        assert_eq!(w.record(&id).stage(Stage::TranscribeStore), StageStatus::Pending);
        w.store.insert(&keys::transcript_json(&id), bytes);
        let err = stages::transcribe_store(&w.store, &w.records, &w.recorder, &w.recorder, &w.config.understanding, &keys::transcript_json(&id)).await.unwrap_err();
        assert!(!err.is_retryable());
        let rec = w.record(&id);
        let failure = rec.failure.unwrap();
        assert_eq!(failure.stage, Stage::TranscribeStore);
        assert!(failure.reason.contains(reason), "{}", failure.reason);
        assert_eq!(w.recorder.published_count(), 0);
    }
}

#[tokio::test]
async fn no_audio_stream_skips_transcription() {
    let w = speaking_world(FakeTranscriber::speaking(TALK, 1.0));
    let event = w.upload("uploads/mute.mp4", b"m", Some(media(20.0, true, false)));
    let transcoder = FakeTranscoder::new(&w.store);
    let id = w
        .run_with(&transcoder, event, &IngestOptions::default())
        .await
        .videos[0]
        .clone();
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published);
    assert_eq!(
        rec.stages[&Stage::TranscribeStart].detail.as_deref(),
        Some("no audio stream")
    );
    assert!(w
        .transcriber
        .as_ref()
        .unwrap()
        .calls
        .lock()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn publishing_waits_for_the_promo_and_a_failed_promo_does_not_block_it() {
    let w = speaking_world(FakeTranscriber::speaking(TALK, 3.5));
    // The renditions job waits, like MediaConvert; the promo job will fail.
    let mut transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 60.0).await;
    let outputs = transcoder.write_outputs(&id, w.record(&id).plan.as_ref().unwrap());
    w.store.take_created();
    let complete = JobStateChange {
        video_id: id.clone(),
        job_id: format!("job-{id}"),
        outcome: JobOutcome::Complete { outputs },
        job: JobKind::Renditions,
    };
    stages::job_state_changed(&w.records, &w.recorder, &w.recorder, &complete)
        .await
        .unwrap();
    let analyzer = FakeAnalyzer { store: &w.store };
    stages::choose_cover_for(
        &w.store,
        &w.records,
        &analyzer,
        &w.recorder,
        &w.recorder,
        &keys::frame_capture(&id, 0),
    )
    .await
    .unwrap();
    let audio = w.run_transcription(&id).await;
    assert!(audio, "transcribed");
    let rec = w.record(&id);
    assert_eq!(
        rec.promo_render.as_ref().unwrap().status,
        StageStatus::Pending
    );
    let waiting = stages::publish(
        &w.store,
        &w.records,
        &w.recorder,
        &w.recorder,
        &w.config.understanding,
        &id,
    )
    .await
    .unwrap();
    assert_eq!(
        waiting,
        stages::Handled::Waiting(id.clone(), vec![Stage::Transcode])
    );
    // The promo job fails: recorded, and publishing goes on.
    transcoder.fail_with = Some(PortError::Failed("no such filter".into()));
    stages::render_promo(&w.records, &transcoder, &w.recorder, &id)
        .await
        .unwrap();
    let rec = w.record(&id);
    let promo = rec.promo_render.unwrap();
    assert_eq!(promo.status, StageStatus::Failed);
    assert!(promo.detail.unwrap().contains("no such filter"));
    stages::publish(
        &w.store,
        &w.records,
        &w.recorder,
        &w.recorder,
        &w.config.understanding,
        &id,
    )
    .await
    .unwrap();
    assert_eq!(w.record(&id).status, VideoStatus::Published);
    // A repeated promo request after that changes nothing.
    let again = stages::render_promo(&w.records, &transcoder, &w.recorder, &id)
        .await
        .unwrap();
    assert!(matches!(again, stages::Handled::Skipped(..)));
}

impl World {
    /// Runs transcribe-start and transcribe-store for the video's MP3, as the MP3's
    /// and the transcript's object-created events would. Whether there was an MP3.
    async fn run_transcription(&self, id: &VideoId) -> bool {
        let Some(transcriber) = self.transcriber.as_ref() else {
            return false;
        };
        if self
            .store
            .objects
            .lock()
            .unwrap()
            .get(&keys::audio_mp3(id))
            .is_none()
        {
            return false;
        }
        stages::transcribe_start(
            &self.store,
            &self.records,
            transcriber,
            &self.recorder,
            &keys::audio_mp3(id),
        )
        .await
        .unwrap();
        stages::transcribe_store(
            &self.store,
            &self.records,
            &self.recorder,
            &self.recorder,
            &self.config.understanding,
            &keys::transcript_json(id),
        )
        .await
        .unwrap();
        true
    }
}

#[tokio::test]
async fn a_gif_job_of_its_own_is_kept_whichever_job_ends_first_and_never_fails_the_video() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    let gif = crate::record::OutputFile {
        key: keys::preview_gif(&id),
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
    };
    // The GIF job ends first; the renditions job after it.
    let handled = stages::job_state_changed(&w.records, &w.recorder, &w.recorder, &gif_done)
        .await
        .unwrap();
    assert!(matches!(handled, stages::Handled::Done(_)), "{handled:?}");
    let plan = w.record(&id).plan.unwrap();
    let mut renditions = transcoder.outputs_for(&id, &plan);
    renditions.retain(|o| o.kind != crate::record::OutputKind::Gif);
    let done = JobStateChange {
        video_id: id.clone(),
        job_id: format!("job-{id}"),
        outcome: JobOutcome::Complete {
            outputs: renditions.clone(),
        },
        job: JobKind::Renditions,
    };
    stages::job_state_changed(&w.records, &w.recorder, &w.recorder, &done)
        .await
        .unwrap();
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
    let again = stages::job_state_changed(&w.records, &w.recorder, &w.recorder, &gif_done)
        .await
        .unwrap();
    assert!(matches!(again, stages::Handled::Skipped(..)), "{again:?}");
    let failed = JobStateChange {
        outcome: JobOutcome::Error {
            code: Some(1040),
            message: "GIF encoder failed".into(),
        },
        ..gif_done
    };
    stages::job_state_changed(&w.records, &w.recorder, &w.recorder, &failed)
        .await
        .unwrap();
    let rec = w.record(&id);
    assert_eq!((rec.version, rec.failure), (version, None));
}

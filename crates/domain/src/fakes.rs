//! In-memory fakes of every port, for tests in every crate (feature `test-util`).
//! They behave like the real things where the stages depend on it: the store
//! announces writes, the record table is conditional on version.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::cover::FrameMeasures;
use crate::error::PortError;
use crate::events::{JobOutcome, ObjectCreated, PipelineMessage};
use crate::keys::VideoId;
use crate::media::{AudioStreamInfo, MediaInfo, VideoStreamInfo};
use crate::plan::Plan;
use crate::ports::*;
use crate::record::{OutputFile, OutputKind, Stage, VideoRecord};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A bucket in memory. Every write is announced in `created`.
#[derive(Default)]
pub struct MemStore {
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
    pub created: Mutex<Vec<ObjectCreated>>,
    /// Answer a HEAD or GET of a missing key as S3 answers a caller without
    /// `s3:ListBucket`: 403 Access Denied, not "no such key" (S3 API Reference,
    /// HeadObject and GetObject). Listings still answer.
    pub without_list_bucket: std::sync::atomic::AtomicBool,
}

impl MemStore {
    pub fn insert(&self, key: &str, bytes: &[u8]) -> ObjectCreated {
        lock(&self.objects).insert(key.to_string(), bytes.to_vec());
        let event = ObjectCreated {
            bucket: "mem".into(),
            key: key.into(),
            size_bytes: bytes.len() as u64,
            etag: Some(mem_etag(bytes)),
            version_id: None,
        };
        lock(&self.created).push(event.clone());
        event
    }
    pub fn keys(&self) -> Vec<String> {
        lock(&self.objects).keys().cloned().collect()
    }
    pub fn take_created(&self) -> Vec<ObjectCreated> {
        std::mem::take(&mut *lock(&self.created))
    }
}

/// A stand-in ETag: the same for the same bytes, as in S3.
fn mem_etag(bytes: &[u8]) -> String {
    format!(
        "{:x}",
        bytes.len() * 31 + bytes.first().copied().unwrap_or(0) as usize
    )
}

impl MemStore {
    /// The answer for a missing `key`: not found, or 403 (see `without_list_bucket`).
    fn missing(&self, key: &str) -> PortError {
        if self
            .without_list_bucket
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            PortError::Failed(format!("s3 {key}: AccessDenied (403): Access Denied"))
        } else {
            PortError::NotFound(key.into())
        }
    }
}

impl ObjectReader for MemStore {
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, PortError> {
        match lock(&self.objects).get(key) {
            Some(b) => Ok(Some(ObjectInfo {
                key: key.into(),
                size_bytes: b.len() as u64,
                etag: Some(mem_etag(b)),
            })),
            None => match self.missing(key) {
                PortError::NotFound(_) => Ok(None),
                denied => Err(denied),
            },
        }
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        let found = lock(&self.objects).get(key).cloned();
        found.ok_or_else(|| self.missing(key))
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, PortError> {
        Ok(lock(&self.objects)
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, b)| ObjectInfo {
                key: k.clone(),
                size_bytes: b.len() as u64,
                etag: Some(mem_etag(b)),
            })
            .collect())
    }
}

impl ObjectWriter for MemStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<(), PortError> {
        self.insert(key, &bytes);
        Ok(())
    }
    async fn copy(&self, from: &str, to: &str) -> Result<(), PortError> {
        let bytes = self.get(from).await?;
        self.insert(to, &bytes);
        Ok(())
    }
}

/// Answers probes from a table; unknown keys are "not media".
#[derive(Default)]
pub struct FakeProber {
    pub media: Mutex<HashMap<String, MediaInfo>>,
}

impl MediaProber for FakeProber {
    async fn probe(&self, object: &ObjectInfo) -> Result<MediaInfo, PortError> {
        let key = &object.key;
        lock(&self.media)
            .get(key)
            .cloned()
            .ok_or_else(|| PortError::Invalid("Invalid data found when processing input".into()))
    }
}

/// A record table with DynamoDB's conditional semantics.
#[derive(Default)]
pub struct MemRecords {
    pub rows: Mutex<HashMap<VideoId, VideoRecord>>,
    /// Writes that found another version (to see that conflicts were retried).
    pub conflicts: Mutex<u32>,
}

impl crate::stages::ProcessingVideos for MemRecords {
    async fn processing(&self) -> Result<Vec<VideoRecord>, PortError> {
        let rows = lock(&self.rows);
        let mut processing: Vec<VideoRecord> = rows
            .values()
            .filter(|r| r.status == crate::record::VideoStatus::Processing)
            .cloned()
            .collect();
        processing.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(processing)
    }
}

impl VideoRecords for MemRecords {
    async fn create(&self, record: &VideoRecord) -> Result<Created, PortError> {
        let mut rows = lock(&self.rows);
        if let Some(existing) = rows.get(&record.id) {
            return Ok(Created::Existing(Box::new(existing.clone())));
        }
        rows.insert(record.id.clone(), record.clone());
        Ok(Created::Created)
    }
    async fn get(&self, id: &VideoId) -> Result<Option<VideoRecord>, PortError> {
        Ok(lock(&self.rows).get(id).cloned())
    }
    async fn update(&self, record: &VideoRecord) -> Result<UpdateResult, PortError> {
        let mut rows = lock(&self.rows);
        match rows.get(&record.id) {
            Some(stored) if stored.version == record.version => {
                let mut next = record.clone();
                next.version += 1;
                rows.insert(record.id.clone(), next);
                Ok(UpdateResult::Stored)
            }
            Some(_) => {
                *lock(&self.conflicts) += 1;
                Ok(UpdateResult::Conflict)
            }
            None => Err(PortError::NotFound(record.id.to_string())),
        }
    }
}

/// Makes the outputs a plan names in a [`MemStore`] and reports them as a finished
/// job, or submits and leaves the job running (`asynchronous`), or fails.
pub struct FakeTranscoder<'a> {
    pub store: &'a MemStore,
    pub asynchronous: bool,
    pub fail_with: Option<PortError>,
    pub submitted: Mutex<Vec<TranscodeJob>>,
    pub promos: Mutex<Vec<PromoJob>>,
    /// The job ids asked to be cancelled, in order.
    pub cancelled: Mutex<Vec<String>>,
    /// Luma each frame capture gets (index → value); default mid-grey detail.
    pub frame_fill: fn(u32) -> u8,
}

impl<'a> FakeTranscoder<'a> {
    pub fn new(store: &'a MemStore) -> Self {
        FakeTranscoder {
            store,
            asynchronous: false,
            fail_with: None,
            submitted: Mutex::new(Vec::new()),
            promos: Mutex::new(Vec::new()),
            cancelled: Mutex::new(Vec::new()),
            frame_fill: |_| 128,
        }
    }

    /// One whose jobs stay submitted until their state change is sent, as
    /// MediaConvert's do.
    pub fn asynchronous(store: &'a MemStore) -> Self {
        FakeTranscoder {
            asynchronous: true,
            ..FakeTranscoder::new(store)
        }
    }

    /// The outputs a plan names, as a transcoder would report them: the progressive
    /// MP4 of the top rung, the HLS master and each rung's playlist, the MP3, the GIF.
    pub fn outputs_for(&self, at: &crate::keys::PlanKeys, plan: &Plan) -> Vec<OutputFile> {
        let mut outputs = Vec::new();
        let file = |key: String,
                    kind,
                    name: Option<String>,
                    codec: &str,
                    w: Option<u32>,
                    h: Option<u32>| OutputFile {
            key,
            kind,
            name,
            codec: codec.into(),
            width_px: w,
            height_px: h,
            bitrate_bps: Some(1),
            duration_s: Some(plan.clip.duration_s()),
            bytes: 10,
        };
        if let Some(top) = plan.progressive() {
            outputs.push(file(
                at.rendition(&top.name),
                OutputKind::Rendition,
                Some(top.name.clone()),
                "h264+aac",
                Some(top.width_px),
                Some(top.height_px),
            ));
            outputs.push(file(
                at.hls_master(),
                OutputKind::HlsMaster,
                None,
                "hls",
                None,
                None,
            ));
        }
        for r in &plan.renditions {
            outputs.push(file(
                at.hls_variant(&r.name),
                OutputKind::HlsVariant,
                Some(r.name.clone()),
                "h264/fmp4",
                Some(r.width_px),
                Some(r.height_px),
            ));
        }
        if plan.mp3_bitrate_bps.is_some() {
            outputs.push(file(
                at.audio_mp3(),
                OutputKind::Mp3,
                None,
                "mp3",
                None,
                None,
            ));
        }
        if let Some(g) = &plan.gif {
            outputs.push(file(
                at.preview_gif(),
                OutputKind::Gif,
                None,
                "gif",
                Some(g.width_px),
                Some(g.height_px),
            ));
        }
        outputs
    }

    /// Writes the outputs and frame captures into the store.
    pub fn write_outputs(&self, at: &crate::keys::PlanKeys, plan: &Plan) -> Vec<OutputFile> {
        let outputs = self.outputs_for(at, plan);
        for o in &outputs {
            self.store.insert(&o.key, b"media");
        }
        if let Some(f) = &plan.frames {
            for i in 0..f.count {
                self.store
                    .insert(&at.frame_capture(i), &[(self.frame_fill)(i)]);
            }
        }
        outputs
    }
}

impl Transcoder for FakeTranscoder<'_> {
    async fn submit(&self, job: &TranscodeJob) -> Result<Submission, PortError> {
        lock(&self.submitted).push(job.clone());
        if let Some(e) = &self.fail_with {
            return Err(e.clone());
        }
        let job_id = format!("job-{}-{}", job.video_id, job.generation);
        if self.asynchronous {
            return Ok(Submission::Submitted { job_id });
        }
        let outputs = self.write_outputs(&job.keys(), &job.plan);
        Ok(Submission::Finished {
            job_id,
            outcome: JobOutcome::Complete { outputs },
        })
    }

    async fn submit_promo(&self, job: &PromoJob) -> Result<Submission, PortError> {
        if let Some(e) = &self.fail_with {
            return Err(e.clone());
        }
        let key = job.keys().promo();
        self.store.insert(&key, b"promo");
        let duration_s: f64 = job.segments.iter().map(|s| s.end_s - s.start_s).sum();
        let top = job.plan.renditions.first();
        let file = OutputFile {
            key,
            kind: OutputKind::Promo,
            name: None,
            codec: "h264+aac".into(),
            width_px: top.map(|r| r.width_px),
            height_px: top.map(|r| r.height_px),
            bitrate_bps: Some(1),
            duration_s: Some(duration_s),
            bytes: 5,
        };
        let mut outputs = vec![file.clone()];
        if job.vertical.is_some() {
            // The vertical cut, as the real transcoders name it.
            let key = job.keys().promo_vertical();
            self.store.insert(&key, b"promo");
            outputs.push(OutputFile {
                key,
                name: Some("vertical".into()),
                ..file
            });
        }
        lock(&self.promos).push(job.clone());
        Ok(Submission::Finished {
            job_id: format!("promo-{}", job.video_id),
            outcome: JobOutcome::Complete { outputs },
        })
    }

    async fn cancel(&self, job_id: &str) -> Result<(), PortError> {
        lock(&self.cancelled).push(job_id.to_string());
        Ok(())
    }
}

/// Measures a one-byte "frame" in `store` as a frame of that mean luma with good detail.
pub struct FakeAnalyzer<'a> {
    pub store: &'a MemStore,
}

impl FrameAnalyzer for FakeAnalyzer<'_> {
    async fn analyze(&self, key: &str) -> Result<FrameAnalysis, PortError> {
        let luma = self.store.get(key).await?.first().copied().unwrap_or(0);
        Ok(FrameAnalysis {
            measures: FrameMeasures {
                mean_luma: luma as f64,
                luma_stddev: luma as f64 / 3.0,
                laplacian_variance: luma as f64 * 4.0,
            },
            detection_bonus: 0.0,
            labels: vec!["Person".into()],
            faces: Vec::new(),
        })
    }
}

/// Records what it published and whom it told.
#[derive(Default)]
pub struct Recorder {
    pub published: Mutex<Vec<VideoId>>,
    pub notified_published: Mutex<Vec<VideoId>>,
    pub notified_failed: Mutex<Vec<(VideoId, Stage, String)>>,
    pub messages: Mutex<Vec<PipelineMessage>>,
}

impl Recorder {
    pub fn take_messages(&self) -> Vec<PipelineMessage> {
        std::mem::take(&mut *lock(&self.messages))
    }
    pub fn failures(&self) -> Vec<(VideoId, Stage, String)> {
        lock(&self.notified_failed).clone()
    }
    pub fn published_count(&self) -> usize {
        lock(&self.published).len()
    }
}

impl Publisher for Recorder {
    async fn publish(&self, record: &VideoRecord) -> Result<Vec<String>, PortError> {
        lock(&self.published).push(record.id.clone());
        Ok(vec![format!("mem://{}", record.id)])
    }
}

impl Notifier for Recorder {
    async fn published(&self, record: &VideoRecord) -> Result<(), PortError> {
        lock(&self.notified_published).push(record.id.clone());
        Ok(())
    }
    async fn failed(
        &self,
        record: &VideoRecord,
        stage: Stage,
        reason: &str,
    ) -> Result<(), PortError> {
        lock(&self.notified_failed).push((record.id.clone(), stage, reason.to_string()));
        Ok(())
    }
}

impl MessageBus for Recorder {
    async fn send(&self, message: PipelineMessage) -> Result<(), PortError> {
        lock(&self.messages).push(message);
        Ok(())
    }
}

impl crate::router::CreatedObjects for MemStore {
    fn take_created(&self) -> Vec<ObjectCreated> {
        MemStore::take_created(self)
    }
}

/// A probed source for tests: H.264 at `fps` and `width × height` (no video when
/// `size` is `None`), AAC stereo 48 kHz when `audio`.
pub fn media_info(size: Option<(u32, u32)>, fps: f64, duration_s: f64, audio: bool) -> MediaInfo {
    MediaInfo {
        format: "mov,mp4,m4a,3gp,3g2,mj2".into(),
        duration_s,
        size_bytes: 1,
        video: size.map(|(width_px, height_px)| VideoStreamInfo {
            width_px,
            height_px,
            fps,
            rotation_deg: 0,
            sample_aspect: (1, 1),
            codec: "h264".into(),
        }),
        audio: audio.then(|| AudioStreamInfo {
            codec: "aac".into(),
            channels: 2,
            sample_rate_hz: 48_000,
        }),
    }
}

/// Transcribes every audio to the same transcript, or submits, or fails.
pub struct FakeTranscriber {
    pub transcript: crate::transcript::Transcript,
    pub asynchronous: bool,
    pub fail_with: Option<PortError>,
    pub calls: Mutex<Vec<String>>,
}

impl FakeTranscriber {
    /// `text` spoken from `start_s` at 2.5 words a second, a 0.6 s pause after each
    /// sentence; punctuation as separate items.
    pub fn speaking(text: &str, start_s: f64) -> FakeTranscriber {
        FakeTranscriber {
            transcript: spoken(text, start_s),
            asynchronous: false,
            fail_with: None,
            calls: Mutex::new(Vec::new()),
        }
    }
}

/// A transcript of `text` as a transcriber would give it (see [`FakeTranscriber::speaking`]).
pub fn spoken(text: &str, start_s: f64) -> crate::transcript::Transcript {
    use crate::transcript::{ItemKind, Transcript, TranscriptItem};
    let mut items = Vec::new();
    let mut t = start_s;
    for raw in text.split_whitespace() {
        let word = raw.trim_end_matches(['.', ',', '?', '!']);
        items.push(TranscriptItem {
            kind: ItemKind::Pronunciation,
            content: word.into(),
            start_s: Some(t),
            end_s: Some(t + 0.32),
            confidence: 0.9,
            speaker: None,
        });
        t += 0.4;
        let punct = &raw[word.len()..];
        if !punct.is_empty() {
            items.push(TranscriptItem::punctuation(punct));
            if punct != "," {
                t += 0.6;
            }
        }
    }
    Transcript {
        job_name: "fake".into(),
        language_code: Some("en-US".into()),
        items,
        low_confidence: false,
        untimed_text: None,
    }
}

impl Transcriber for FakeTranscriber {
    async fn transcribe(
        &self,
        audio_key: &str,
        job_name: &str,
    ) -> Result<Submission<crate::transcript::Transcript>, PortError> {
        lock(&self.calls).push(audio_key.to_string());
        if let Some(e) = &self.fail_with {
            return Err(e.clone());
        }
        if self.asynchronous {
            return Ok(Submission::Submitted {
                job_id: job_name.into(),
            });
        }
        let mut t = self.transcript.clone();
        t.job_name = job_name.into();
        Ok(Submission::Finished {
            job_id: job_name.into(),
            outcome: t,
        })
    }
}

/// A mail server: the emails it accepted, and what it answers next (`Ok`, or an error
/// for addresses in `refuse`, or for every email while `down`).
#[derive(Default)]
pub struct FakeMailer {
    pub sent: Mutex<Vec<crate::outbox::Email>>,
    /// Addresses it refuses for good (a 550 to RCPT TO).
    pub refuse: Vec<String>,
    /// Unreachable: every send is [`PortError::Unavailable`].
    pub down: Mutex<bool>,
}

impl FakeMailer {
    pub fn addresses(&self) -> Vec<String> {
        lock(&self.sent)
            .iter()
            .map(|e| e.to_address.clone())
            .collect()
    }
}

impl Mailer for FakeMailer {
    async fn send(&self, email: &crate::outbox::Email) -> Result<(), PortError> {
        if *lock(&self.down) {
            return Err(PortError::Unavailable("connection refused".into()));
        }
        if self.refuse.contains(&email.to_address) {
            return Err(PortError::Invalid(format!(
                "550 no such user: {}",
                email.to_address
            )));
        }
        lock(&self.sent).push(email.clone());
        Ok(())
    }
}

/// A talk sheet and a catalog: the links written, by row title; the catalog entries
/// written; `locked` defers every write.
#[derive(Default)]
pub struct FakeSheet {
    pub written: Mutex<Vec<(String, String)>>,
    pub catalog: Mutex<Vec<(crate::catalog::CatalogTarget, Option<String>)>>,
    pub locked: Mutex<bool>,
}

impl LinkWriter for FakeSheet {
    async fn write_link(&self, talk: &crate::talks::TalkRef, link: &str) -> Result<(), PortError> {
        if *lock(&self.locked) {
            return Err(PortError::Unavailable(format!(
                "{} is open elsewhere",
                talk.sheet
            )));
        }
        lock(&self.written).push((talk.title.clone(), link.to_string()));
        Ok(())
    }

    async fn write_catalog(
        &self,
        target: &crate::catalog::CatalogTarget,
        link: Option<&str>,
    ) -> Result<(), PortError> {
        if *lock(&self.locked) {
            return Err(PortError::Unavailable(format!(
                "{} is busy",
                target.catalog
            )));
        }
        lock(&self.catalog).push((target.clone(), link.map(str::to_string)));
        Ok(())
    }
}

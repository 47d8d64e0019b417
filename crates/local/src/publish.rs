//! Local publishing and notification: the report page is the local "publication",
//! and the terminal is told what happened.

use tracing::{info, warn};
use vidpipe_domain::captions::{cues, to_vtt};
use vidpipe_domain::keys;
use vidpipe_domain::ports::{Notifier, ObjectReader, ObjectWriter, Publisher};
use vidpipe_domain::record::{Stage, VideoRecord};
use vidpipe_domain::transcript::Transcript;
use vidpipe_domain::PortError;

use crate::report::{render, CaptionsSource, SpeechView, SUBTITLES_VTT};
use crate::store::LocalStore;

/// Writes `report.html` beside the outputs; the links are its path and the HLS master's.
pub struct ReportPublisher<'a> {
    pub store: &'a LocalStore,
}

impl Publisher for ReportPublisher<'_> {
    async fn publish(&self, record: &VideoRecord) -> Result<Vec<String>, PortError> {
        let at = record.keys();
        let (key, dir) = (at.report(), at.media_dir());
        let speech = LoadedSpeech::of(self.store, record).await?;
        let page = render(
            record,
            &|k| self.store.relative_path(&dir, k),
            speech.view().as_ref(),
        );
        self.store.put(&key, page.into_bytes(), "text/html").await?;
        let mut links = vec![self.store.path_of(&key)?.display().to_string()];
        if record.outputs.iter().any(|o| o.key == at.hls_master()) {
            links.push(self.store.path_of(&at.hls_master())?.display().to_string());
        }
        Ok(links)
    }
}

/// A video's transcript and the captions its player shows, read from the store.
pub struct LoadedSpeech {
    pub transcript: Option<Transcript>,
    /// WebVTT: a link's English subtitles when it came with some, else the captions
    /// made from the transcript.
    pub captions_vtt: Option<String>,
    pub captions_source: CaptionsSource,
}

impl LoadedSpeech {
    /// # Errors
    /// The transcript the record names cannot be read or parsed.
    pub async fn of(store: &LocalStore, record: &VideoRecord) -> Result<LoadedSpeech, PortError> {
        let mut transcript = None;
        let mut vtt = None;
        if let Some(speech) = &record.speech {
            let doc = store.get(&speech.transcript_key).await?;
            let parsed = Transcript::from_transcribe_json(&speech.transcript_key, &doc)
                .map_err(|e| PortError::Invalid(e.to_string()))?;
            vtt = match text_of(store, &record.keys().transcript_file("captions.vtt")).await? {
                Some(text) => Some(text),
                None => Some(to_vtt(&cues(&parsed, f64::MAX))),
            };
            transcript = Some(parsed);
        }
        let subtitles = text_of(
            store,
            &keys::video_transcript_file(&record.id, SUBTITLES_VTT),
        )
        .await?;
        let captions_source = match subtitles {
            Some(_) => CaptionsSource::LinkSubtitles,
            None => CaptionsSource::Transcription,
        };
        Ok(LoadedSpeech {
            transcript,
            captions_vtt: subtitles.or(vtt),
            captions_source,
        })
    }

    /// What the report shows of it; `None` without captions.
    pub fn view(&self) -> Option<SpeechView<'_>> {
        self.captions_vtt.as_deref().map(|vtt| SpeechView {
            transcript: self.transcript.as_ref(),
            captions_vtt: vtt,
            captions_source: self.captions_source,
        })
    }
}

/// A stored text object, `None` when there is none.
async fn text_of(store: &LocalStore, key: &str) -> Result<Option<String>, PortError> {
    match store.get(key).await {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(PortError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Logs what the cloud would send by SNS and SES.
pub struct LogNotifier;

impl Notifier for LogNotifier {
    async fn published(&self, record: &VideoRecord) -> Result<(), PortError> {
        let speakers = record.sidecar.as_ref().map_or(0, |s| {
            s.speakers.iter().filter(|s| s.email.is_some()).count()
        });
        info!(video_id = %record.id, links = ?record.links, speakers_to_email = speakers, "published");
        for d in &record.destinations {
            info!(video_id = %record.id, to = %d.label(), state = %d.describe(), "destination");
        }
        Ok(())
    }
    async fn failed(
        &self,
        record: &VideoRecord,
        stage: Stage,
        reason: &str,
    ) -> Result<(), PortError> {
        warn!(video_id = %record.id, stage = %stage, reason, "failed");
        Ok(())
    }
}

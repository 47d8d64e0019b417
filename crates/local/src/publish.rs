//! Local publishing and notification: the report page is the local "publication",
//! and the terminal is told what happened.

use tracing::{info, warn};
use vidpipe_domain::captions::{cues, to_vtt};
use vidpipe_domain::keys;
use vidpipe_domain::ports::{Notifier, ObjectReader, ObjectWriter, Publisher};
use vidpipe_domain::record::{Stage, VideoRecord};
use vidpipe_domain::transcript::Transcript;
use vidpipe_domain::PortError;

use crate::report::{render, SpeechView};
use crate::store::LocalStore;

/// Writes `report.html` beside the outputs; the links are its path and the HLS master's.
pub struct ReportPublisher<'a> {
    pub store: &'a LocalStore,
}

impl Publisher for ReportPublisher<'_> {
    async fn publish(&self, record: &VideoRecord) -> Result<Vec<String>, PortError> {
        let key = keys::report(&record.id);
        let dir = keys::media_dir(&record.id);
        let mut transcript = None;
        if let Some(speech) = &record.speech {
            let doc = self.store.get(&speech.transcript_key).await?;
            let parsed = Transcript::from_transcribe_json(&speech.transcript_key, &doc)
                .map_err(|e| PortError::Invalid(e.to_string()))?;
            let vtt = match self
                .store
                .get(&keys::transcript_file(&record.id, "captions.vtt"))
                .await
            {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(PortError::NotFound(_)) => to_vtt(&cues(&parsed, f64::MAX)),
                Err(e) => return Err(e),
            };
            transcript = Some((parsed, vtt));
        }
        let view = transcript.as_ref().map(|(t, vtt)| SpeechView {
            transcript: t,
            captions_vtt: vtt,
        });
        let page = render(
            record,
            &|k| self.store.relative_path(&dir, k),
            view.as_ref(),
        );
        self.store.put(&key, page.into_bytes(), "text/html").await?;
        let mut links = vec![self.store.path_of(&key)?.display().to_string()];
        if record
            .outputs
            .iter()
            .any(|o| o.key == keys::hls_master(&record.id))
        {
            links.push(
                self.store
                    .path_of(&keys::hls_master(&record.id))?
                    .display()
                    .to_string(),
            );
        }
        Ok(links)
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

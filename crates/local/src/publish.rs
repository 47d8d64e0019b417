//! Local publishing and notification: the report page is the local "publication",
//! and the terminal is told what happened.

use tracing::{info, warn};
use vidpipe_domain::keys;
use vidpipe_domain::ports::{Notifier, ObjectWriter, Publisher};
use vidpipe_domain::record::{Stage, VideoRecord};
use vidpipe_domain::PortError;

use crate::store::LocalStore;

/// Writes `report.html` beside the outputs; the links are its path and the HLS master's.
pub struct ReportPublisher<'a> {
    pub store: &'a LocalStore,
}

impl Publisher for ReportPublisher<'_> {
    async fn publish(&self, record: &VideoRecord) -> Result<Vec<String>, PortError> {
        let key = keys::report(&record.id);
        self.store
            .put(
                &key,
                crate::report::render(record).into_bytes(),
                "text/html",
            )
            .await?;
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

//! Notify: once a video is published, the speaker emails, the organiser's notice and
//! the talk sheet's link, each exactly once through the record's outbox
//! (`crate::outbox`). Run after publish, and again for whatever is still due
//! (`vidpipe publish --due`; the next delivery in the cloud).

use tracing::{info, warn};

use super::{modify_record, read_record};
use crate::error::{PortError, StageError};
use crate::keys::VideoId;
use crate::outbox::{self, Delivery, DeliveryKind, DeliveryState, NotifyConfig};
use crate::ports::{LinkWriter, Mailer, VideoRecords};
use crate::record::{VideoRecord, VideoStatus};

/// What a notify run did, by delivery target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotifyReport {
    pub sent: Vec<String>,
    /// Still due (server down, sheet locked): target and reason.
    pub deferred: Vec<(String, String)>,
    /// Refused for good: target and reason. The video stays published.
    pub failed: Vec<(String, String)>,
    /// Sent again after a crash had left them marked sending.
    pub repeated: Vec<String>,
}

/// Records the deliveries the published video calls for ([`outbox::deliveries_for`])
/// that its outbox lacks, then makes each due one: marked sending, made, marked sent
/// (or failed, or pending again with the reason). A video not published gets nothing.
/// When the mail server is unavailable, the rest of the emails wait for the next run.
///
/// # Errors
/// The record store's. A mail or sheet failure is recorded on the delivery, not
/// returned.
pub async fn notify<R, M, W>(
    records: &R,
    mailer: Option<&M>,
    writer: Option<&W>,
    config: &NotifyConfig,
    video_id: &VideoId,
) -> Result<NotifyReport, StageError>
where
    R: VideoRecords,
    M: Mailer,
    W: LinkWriter,
{
    let config = NotifyConfig {
        email: config.email && mailer.is_some(),
        sheet_write_back: config.sheet_write_back && writer.is_some(),
        catalog_write_back: config.catalog_write_back && writer.is_some(),
        ..config.clone()
    };
    let recorded = modify_record(records, video_id, |r| {
        if r.status != VideoStatus::Published {
            return None;
        }
        let new: Vec<Delivery> = outbox::deliveries_for(r, &config)
            .into_iter()
            .filter(|d| !r.outbox.iter().any(|o| o.key == d.key))
            .collect();
        (!new.is_empty()).then(|| r.outbox.extend(new))
    })
    .await?;
    let video = match recorded {
        Some((record, ())) => record,
        None => read_record(records, video_id).await?,
    };
    let mut report = NotifyReport::default();
    let mut mail_down = false;
    for delivery in video.outbox.iter().filter(|d| d.is_due()) {
        let is_mail = matches!(
            delivery.kind,
            DeliveryKind::SpeakerEmail { .. } | DeliveryKind::OrganiserNotice { .. }
        );
        if is_mail && mail_down {
            report
                .deferred
                .push((delivery.target(), "the mail server is unavailable".into()));
            continue;
        }
        let Some(was) = claim(records, video_id, &delivery.key).await? else {
            continue;
        };
        if was == DeliveryState::Sending {
            warn!(video_id = %video_id, to = %delivery.target(), "a run stopped between sending and recording this; sending it again");
            report.repeated.push(delivery.target());
        }
        let made = make(&video, delivery, mailer, writer).await;
        let (state, detail) = match &made {
            Ok(()) => (DeliveryState::Sent, None),
            Err(e) if e.is_retryable() => (DeliveryState::Pending, Some(e.to_string())),
            Err(e) => (DeliveryState::Failed, Some(e.to_string())),
        };
        settle(records, video_id, &delivery.key, state, detail.clone()).await?;
        let target = delivery.target();
        match state {
            DeliveryState::Sent => {
                info!(video_id = %video_id, to = %target, "sent");
                report.sent.push(target);
            }
            DeliveryState::Pending => {
                warn!(video_id = %video_id, to = %target, reason = ?detail, "deferred to the next run");
                mail_down |= is_mail;
                report.deferred.push((target, detail.unwrap_or_default()));
            }
            _ => {
                warn!(video_id = %video_id, to = %target, reason = ?detail, "refused; recorded on the video");
                report.failed.push((target, detail.unwrap_or_default()));
            }
        }
    }
    Ok(report)
}

/// Marks the delivery sending before it is made: the state it had (pending, or
/// sending after a crash), or `None` when it is no longer due (another run made it).
async fn claim<R: VideoRecords>(
    records: &R,
    id: &VideoId,
    key: &str,
) -> Result<Option<DeliveryState>, StageError> {
    let claimed = modify_record(records, id, |r| {
        let d = r.outbox.iter_mut().find(|d| d.key == key && d.is_due())?;
        let was = d.state;
        d.set(DeliveryState::Sending, None);
        d.attempts += 1;
        Some(was)
    })
    .await?;
    Ok(claimed.map(|(_, was)| was))
}

async fn settle<R: VideoRecords>(
    records: &R,
    id: &VideoId,
    key: &str,
    state: DeliveryState,
    detail: Option<String>,
) -> Result<(), StageError> {
    modify_record(records, id, |r| {
        let d = r.outbox.iter_mut().find(|d| d.key == key)?;
        d.set(state, detail.clone());
        Some(())
    })
    .await?;
    Ok(())
}

async fn make<M: Mailer, W: LinkWriter>(
    video: &VideoRecord,
    delivery: &Delivery,
    mailer: Option<&M>,
    writer: Option<&W>,
) -> Result<(), PortError> {
    let unwired = || PortError::Unavailable("not configured in this run".into());
    match &delivery.kind {
        DeliveryKind::SpeakerEmail { name, address } => {
            let email = outbox::speaker_email(video, name, address);
            mailer.ok_or_else(unwired)?.send(&email).await
        }
        DeliveryKind::OrganiserNotice { address } => {
            let email = outbox::organiser_notice(video, address, None);
            mailer.ok_or_else(unwired)?.send(&email).await
        }
        DeliveryKind::SheetLink { link } => match &video.talk {
            Some(talk) => writer.ok_or_else(unwired)?.write_link(talk, link).await,
            None => Err(PortError::Invalid("the video has no talk-sheet row".into())),
        },
        DeliveryKind::CatalogEntry { link, .. } => {
            let target = video.sidecar.as_ref().and_then(|s| s.catalog.as_ref());
            match target {
                Some(target) => {
                    let writer = writer.ok_or_else(unwired)?;
                    writer.write_catalog(target, link.as_deref()).await
                }
                None => Err(PortError::Invalid(
                    "the video's sidecar names no catalog".into(),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests;

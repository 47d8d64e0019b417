//! Publish: once every part is settled, exactly once.

use tracing::warn;

use super::{modify_record, record_failure, Handled};
use crate::destinations::state::Destination;
use crate::destinations::DestinationRequest;
use crate::error::StageError;
use crate::keys::VideoId;
use crate::manifest::Manifest;
use crate::ports::{Notifier, ObjectWriter, Publisher, VideoRecords};
use crate::record::{Stage, StageStatus, VideoRecord, VideoStatus};
use crate::understanding::{self, UnderstandingConfig};

/// Publish, on a part recorded: when transcode, transcript and cover are all settled,
/// claims the publish with a conditional update (so of several events exactly one
/// publishes), writes `manifest.json`, publishes, records the links and notifies.
/// [`Handled::Waiting`] names the parts not yet settled.
///
/// When the video has destinations (its sidecar's `publish` list, else `deployment`),
/// they are recorded, each pending, and the stage stays running: the video is
/// published, and notified, by [`super::destinations::publish_to_destinations`] once
/// every one has settled.
///
/// # Errors
/// The store's and publisher's: a retryable one gives the claim back, any other
/// fails the video.
pub async fn publish<S, R, P, N>(
    store: &S,
    records: &R,
    publisher: &P,
    notifier: &N,
    config: &UnderstandingConfig,
    deployment: &[DestinationRequest],
    video_id: &VideoId,
) -> Result<Handled, StageError>
where
    S: ObjectWriter,
    R: VideoRecords,
    P: Publisher,
    N: Notifier,
{
    let mut waiting = Vec::new();
    let claimed = modify_record(records, video_id, |r| {
        waiting = r.unsettled_parts();
        (r.status == VideoStatus::Processing
            && r.stage(Stage::Publish) == StageStatus::Pending
            && waiting.is_empty())
        .then(|| r.set_stage(Stage::Publish, StageStatus::Running, None))
    })
    .await?;
    let Some((record, ())) = claimed else {
        return Ok(if waiting.is_empty() {
            Handled::Skipped(
                video_id.clone(),
                "already published, publishing, or failed".into(),
            )
        } else {
            Handled::Waiting(video_id.clone(), waiting)
        });
    };
    // The manifest and the publisher see the record as it stands once published.
    let mut to_publish = record;
    compose_tags_and_description(&mut to_publish, config);
    to_publish.status = VideoStatus::Published;
    to_publish.set_stage(Stage::Publish, StageStatus::Done, None);
    let links = match write_manifest_and_publish(store, publisher, &to_publish).await {
        Ok(links) => links,
        Err(e) => {
            return Err(record_failure(records, notifier, video_id, Stage::Publish, e.into()).await)
        }
    };
    let requests = to_publish.destination_requests(deployment);
    if !requests.is_empty() {
        let destinations = Destination::all_of(&requests);
        let names: Vec<String> = destinations.iter().map(Destination::label).collect();
        modify_record(records, video_id, |r| {
            r.links = links.clone();
            r.hashtags = to_publish.hashtags.clone();
            r.description = to_publish.description.clone();
            // A replan (a sidecar changed, a forced run) keeps the destinations it
            // has, with their uploads, and adds the ones now asked for.
            for d in &destinations {
                let have = r
                    .destinations
                    .iter()
                    .any(|o| o.request.to == d.request.to && o.cut == d.cut);
                if !have {
                    r.destinations.push(d.clone());
                }
            }
            let detail = format!("publishing to {}", names.join(", "));
            r.set_stage(Stage::Publish, StageStatus::Running, Some(detail));
            Some(())
        })
        .await?;
        return Ok(Handled::Planned(
            video_id.clone(),
            vec![format!("publishing to {}", names.join(", "))],
        ));
    }
    let published = modify_record(records, video_id, |r| {
        r.links = links.clone();
        r.hashtags = to_publish.hashtags.clone();
        r.description = to_publish.description.clone();
        r.status = VideoStatus::Published;
        r.set_stage(Stage::Publish, StageStatus::Done, None);
        Some(())
    })
    .await?;
    if let Some((record, ())) = published {
        if let Err(e) = notifier.published(&record).await {
            warn!(video_id = %video_id, error = %e, "published, but the notification was not sent");
        }
    }
    Ok(Handled::Done(video_id.clone()))
}

async fn write_manifest_and_publish<S: ObjectWriter, P: Publisher>(
    store: &S,
    publisher: &P,
    record: &VideoRecord,
) -> Result<Vec<String>, crate::error::PortError> {
    let plan = record.keys();
    let manifest = Manifest::of(record, &|key| store.relative_path(&plan.media_dir(), key));
    store
        .put(&plan.manifest(), manifest.to_json(), "application/json")
        .await?;
    publisher.publish(record).await
}

/// Hashtags (sidecar tags, then transcript keywords, then visual labels) and the
/// description (the sidecar's, else title, summary, speakers and hashtags).
pub fn compose_tags_and_description(record: &mut VideoRecord, config: &UnderstandingConfig) {
    let sidecar_tags = record
        .sidecar
        .as_ref()
        .map(|s| s.tags.clone())
        .unwrap_or_default();
    let keywords = record
        .speech
        .as_ref()
        .map(|s| s.keywords.clone())
        .unwrap_or_default();
    record.hashtags =
        understanding::merge_tags(&sidecar_tags, &keywords, &record.labels, config.max_tags);
    let speakers: Vec<&str> = record.sidecar.as_ref().map_or(Vec::new(), |s| {
        s.speakers.iter().map(|p| p.name.as_str()).collect()
    });
    let summary = match record.sidecar.as_ref().and_then(|s| s.description.clone()) {
        Some(given) => vec![given],
        None => record
            .speech
            .as_ref()
            .map(|s| s.summary.clone())
            .unwrap_or_default(),
    };
    record.description = Some(understanding::description(
        &record.title(),
        &summary,
        &speakers,
        &record.hashtags,
    ));
}

#[cfg(test)]
mod tests;

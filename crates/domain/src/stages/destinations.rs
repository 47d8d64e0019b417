//! Publishing to the platforms: each destination of a video (YouTube, Vimeo, a
//! Facebook Page) moved on one step at a time through [`Platforms`], each step's
//! result recorded before the next, so that a replayed event, a crash or a timeout
//! resumes from the record (an upload from the offset the platform confirms) and never
//! uploads twice. A destination is claimed under a lease while a run moves it.
//!
//! The video is published once every destination has settled (done, failed, or
//! needing credentials); the notice then says which, and only then are the speakers
//! emailed, with the platforms' links. A deferred destination (a rate limit, a spent
//! quota) waits in the record for a later pass: `vidpipe publish --due` locally, the
//! reconciler in the cloud.

use std::time::Instant;

use tracing::{info, warn};

use super::{modify_record, read_record};
use crate::destinations::answers::Verdict;
use crate::destinations::state::{all_settled, next_due, Destination, DestinationState, Step};
use crate::destinations::upload::{
    Extra, Platforms, Readiness, Sent, UploadFailure, UploadItem, MAX_PROTOCOL_ATTEMPTS,
};
use crate::error::StageError;
use crate::keys::VideoId;
use crate::ports::{Notifier, VideoRecords};
use crate::record::{Lease, Stage, StageStatus, VideoRecord, VideoStatus};

/// How long to wait before asking again whether a platform has finished processing an
/// uploaded video, seconds.
pub const PROCESSING_POLL_S: i64 = 30;

/// What a pass did: each destination's state after it, and whether it published the
/// video.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DestinationsReport {
    /// `(label, state in words)`, one per destination.
    pub states: Vec<(String, String)>,
    /// The earliest time a deferred destination comes due, Unix seconds.
    pub next_due_unix_s: Option<i64>,
    /// This pass settled the last destination and published the video.
    pub published: bool,
    /// A destination is moved by another run now (its lease is live).
    pub held_elsewhere: Vec<String>,
    /// The pass stopped at `stop_at` with work due now: the next run goes on.
    pub stopped_at_deadline: bool,
    /// The video is still making its own parts (or failed): its destinations wait.
    pub waiting_for_parts: bool,
}

impl DestinationsReport {
    /// Whether every destination has settled.
    pub fn settled(&self) -> bool {
        self.next_due_unix_s.is_none() && self.held_elsewhere.is_empty()
    }
}

/// The clock the pass reads: Unix seconds (a controllable one in tests).
pub type Clock<'a> = &'a (dyn Fn() -> i64 + Send + Sync);

/// Moves each due destination of the video as far as it goes now: until it is done,
/// settled, deferred, or `stop_at` comes (a Lambda near its timeout: the offset is
/// recorded and the next invocation goes on). At least one step is made, even past
/// `stop_at`, so that each run gets further than the one before. Then, when every destination has
/// settled, publishes the video (once) and sends the notice.
///
/// A video without destinations, failed, or still making its own parts gets
/// nothing.
///
/// # Errors
/// The record store's. A platform's refusal is recorded on its destination, not
/// returned.
pub async fn publish_to_destinations<R, P, N>(
    records: &R,
    platforms: &P,
    notifier: &N,
    video_id: &VideoId,
    now: Clock<'_>,
    stop_at: Option<Instant>,
) -> Result<DestinationsReport, StageError>
where
    R: VideoRecords,
    P: Platforms,
    N: Notifier,
{
    let count = read_record(records, video_id).await?.destinations.len();
    let mut report = DestinationsReport::default();
    // Every pass makes at least one step, so that a run handed over at its deadline
    // always gets further than the one before.
    let mut steps = 0;
    'destinations: for index in 0..count {
        loop {
            if steps > 0 && stop_at.is_some_and(|t| Instant::now() >= t) {
                break 'destinations;
            }
            let claimed = claim(records, video_id, index, now()).await?;
            let (video, destination, step) = match claimed {
                Claim::Mine(mine) => *mine,
                Claim::Held(label) => {
                    report.held_elsewhere.push(label);
                    break;
                }
                Claim::NotDue => break,
            };
            steps += 1;
            let went_on = take_step(
                records,
                platforms,
                &video,
                index,
                &destination,
                step,
                now,
                stop_at,
            )
            .await?;
            if !went_on {
                release(records, video_id, index).await?;
                break;
            }
        }
    }
    let video = finish(records, notifier, video_id).await?;
    report.published = video.1;
    let video = video.0;
    report.states = video
        .destinations
        .iter()
        .map(|d| (d.label(), d.describe()))
        .collect();
    // A deferred destination is due at its time; any other not settled (paused at
    // the deadline, held by another run) is due now. A video not being published
    // has nothing due until its publish stage runs.
    let at = now();
    report.waiting_for_parts = !publishing(&video);
    report.next_due_unix_s =
        next_due(&video.destinations, at).filter(|_| !report.waiting_for_parts);
    report.stopped_at_deadline = stop_at.is_some_and(|t| Instant::now() >= t)
        && report.held_elsewhere.is_empty()
        && report.next_due_unix_s.is_some_and(|t| t <= at);
    Ok(report)
}

/// Whether the video's destinations may move: its publish stage is running (its own
/// parts are done), or it is published.
fn publishing(r: &VideoRecord) -> bool {
    r.status == VideoStatus::Published
        || (r.status == VideoStatus::Processing && r.stage(Stage::Publish) == StageStatus::Running)
}

enum Claim {
    /// Claimed: the record as claimed, the destination and its step.
    Mine(Box<(VideoRecord, Destination, Step)>),
    Held(String),
    NotDue,
}

/// Takes destination `index` under a lease when it has a step due at `now`.
async fn claim<R: VideoRecords>(
    records: &R,
    id: &VideoId,
    index: usize,
    now: i64,
) -> Result<Claim, StageError> {
    let terms = records.lease_terms();
    let mut held = None;
    let claimed = modify_record(records, id, |r| {
        // Only a video being published (its own parts done) or published: a platform
        // added before then waits for the publish stage.
        if !publishing(r) {
            return None;
        }
        let d = r.destinations.get_mut(index)?;
        if !d.is_due(now) {
            return None;
        }
        let step = d.step(now);
        if let Some(lease) = &d.lease {
            let live = !lease.expired_at(now.max(0) as u64) && !records.holder_gone(lease);
            if live && lease.holder != terms.holder {
                held = Some(format!("{} (moved by {})", d.label(), lease.holder));
                return None;
            }
        }
        d.lease = Some(Lease {
            holder: terms.holder.clone(),
            expires_unix_s: (now.max(0) as u64).saturating_add(terms.lease_s),
        });
        Some((d.clone(), step))
    })
    .await?;
    Ok(match (claimed, held) {
        (Some((video, (destination, step))), _) => {
            Claim::Mine(Box::new((video, destination, step)))
        }
        (None, Some(label)) => Claim::Held(label),
        (None, None) => Claim::NotDue,
    })
}

/// Records `change` on destination `index`.
async fn record<R: VideoRecords>(
    records: &R,
    id: &VideoId,
    index: usize,
    change: impl Fn(&mut Destination),
) -> Result<(), StageError> {
    modify_record(records, id, |r| r.destinations.get_mut(index).map(&change)).await?;
    Ok(())
}

async fn release<R: VideoRecords>(
    records: &R,
    id: &VideoId,
    index: usize,
) -> Result<(), StageError> {
    record(records, id, index, |d| d.lease = None).await
}

/// Makes one step and records its result: whether to go on with this destination
/// now (`false`: it waits, settled, or paused at the deadline).
#[allow(clippy::too_many_arguments)]
async fn take_step<R: VideoRecords, P: Platforms>(
    records: &R,
    platforms: &P,
    video: &VideoRecord,
    index: usize,
    destination: &Destination,
    step: Step,
    now: Clock<'_>,
    stop_at: Option<Instant>,
) -> Result<bool, StageError> {
    let id = &video.id;
    let request = &destination.request;
    let label = destination.label();
    let item = match UploadItem::of(video, destination.cut) {
        Ok(item) => item,
        Err(reason) => {
            warn!(video_id = %id, to = %label, %reason, "nothing to upload");
            record(records, id, index, |d| {
                d.state = DestinationState::Failed {
                    reason: reason.clone(),
                }
            })
            .await?;
            return Ok(false);
        }
    };
    let refused = |failure: UploadFailure| {
        let label = label.clone();
        async move {
            warn!(video_id = %id, to = %label, failure = ?failure, "refused");
            let at = now();
            let restarted = std::sync::atomic::AtomicBool::new(false);
            record(records, id, index, |d| {
                match failure.verdict(d.request.to, at, d.attempts + 1) {
                    Some(verdict) => d.refused(verdict),
                    // An expired session starts again at once, a few times in a row.
                    None if d.attempts + 1 < MAX_PROTOCOL_ATTEMPTS => {
                        d.attempts += 1;
                        d.session_expired();
                        restarted.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    None => d.refused(Verdict::Permanent {
                        reason: format!(
                            "{} lost the upload session {} times in a row",
                            d.request.to.name(),
                            d.attempts + 1
                        ),
                    }),
                }
            })
            .await?;
            // Every other refusal waits.
            Ok::<bool, StageError>(restarted.load(std::sync::atomic::Ordering::SeqCst))
        }
    };
    match step {
        Step::Start => match platforms.start(request, &item).await {
            Ok(session) => {
                info!(video_id = %id, to = %label, bytes = item.bytes, "upload session made");
                record(records, id, index, |d| {
                    d.advance(DestinationState::Uploading {
                        session: session.clone(),
                        offset: 0,
                    })
                })
                .await?;
                Ok(true)
            }
            Err(f) => refused(f).await,
        },
        Step::Resume { session, .. } => {
            match platforms.send(request, &item, &session, stop_at).await {
                Ok(Sent::Complete { platform_id }) => {
                    info!(video_id = %id, to = %label, %platform_id, "every byte sent");
                    record(records, id, index, |d| {
                        d.advance(DestinationState::Processing {
                            platform_id: platform_id.clone(),
                        })
                    })
                    .await?;
                    Ok(true)
                }
                Ok(Sent::Transferred { session, offset }) => {
                    info!(video_id = %id, to = %label, offset, "every byte sent; finishing");
                    record(records, id, index, |d| {
                        d.advance(DestinationState::Uploading {
                            session: session.clone(),
                            offset,
                        })
                    })
                    .await?;
                    Ok(true)
                }
                Ok(Sent::Paused { offset }) => {
                    info!(video_id = %id, to = %label, offset, "paused at the deadline");
                    record(records, id, index, |d| {
                        d.advance(DestinationState::Uploading {
                            session: session.clone(),
                            offset,
                        })
                    })
                    .await?;
                    Ok(false)
                }
                Err(f) => refused(f).await,
            }
        }
        Step::Poll { platform_id } => match platforms.status(request, &platform_id).await {
            Ok(Readiness::Ready { url }) => {
                for extra in item.extras(request) {
                    if destination.extras_done.contains(&extra) {
                        continue;
                    }
                    match platforms.extra(request, &item, &platform_id, extra).await {
                        Ok(()) => record(records, id, index, |d| d.extras_done.push(extra)).await?,
                        Err(f) => {
                            if !extra_refused(records, id, index, &f, extra, now()).await? {
                                return Ok(false);
                            }
                        }
                    }
                }
                info!(video_id = %id, to = %label, %url, "published there");
                record(records, id, index, |d| {
                    d.advance(DestinationState::Done {
                        platform_id: platform_id.clone(),
                        url: url.clone(),
                    })
                })
                .await?;
                Ok(false)
            }
            Ok(Readiness::Processing) => {
                let until = now() + PROCESSING_POLL_S;
                record(records, id, index, |d| {
                    d.state = DestinationState::Deferred {
                        until_unix_s: until,
                        reason: format!("{} is processing the video", d.request.to.name()),
                        resume: Box::new(DestinationState::Processing {
                            platform_id: platform_id.clone(),
                        }),
                    }
                })
                .await?;
                Ok(false)
            }
            Ok(Readiness::Failed { reason }) => {
                record(records, id, index, |d| {
                    d.state = DestinationState::Failed {
                        reason: reason.clone(),
                    }
                })
                .await?;
                Ok(false)
            }
            Err(f) => refused(f).await,
        },
        Step::Wait { .. } | Step::Nothing => Ok(false),
    }
}

/// A finishing step refused. A permanent refusal is noted on the destination and the
/// step counted as made (the video is there without it); any other waits like an
/// upload. Whether to go on with the other steps.
async fn extra_refused<R: VideoRecords>(
    records: &R,
    id: &VideoId,
    index: usize,
    failure: &UploadFailure,
    extra: Extra,
    now: i64,
) -> Result<bool, StageError> {
    let mut go_on = false;
    modify_record(records, id, |r| {
        let d = r.destinations.get_mut(index)?;
        match failure.verdict(d.request.to, now, d.attempts + 1) {
            Some(Verdict::Permanent { reason }) => {
                warn!(video_id = %id, to = %d.label(), extra = extra.as_str(), %reason, "not made; the upload stands");
                d.notes.push(format!("{}: {reason}", extra.as_str()));
                d.extras_done.push(extra);
                go_on = true;
            }
            Some(verdict) => d.refused(verdict),
            None => d.refused(Verdict::Retry {
                at_unix_s: now,
                reason: format!("{}: the platform lost the request", extra.as_str()),
            }),
        }
        Some(())
    })
    .await?;
    Ok(go_on)
}

/// Publishes the video once every destination has settled: the platforms' links
/// first, then its own; the notice. Returns the record and whether this call
/// published it. A video published before (destinations added later) gets the new
/// links.
async fn finish<R: VideoRecords, N: Notifier>(
    records: &R,
    notifier: &N,
    id: &VideoId,
) -> Result<(VideoRecord, bool), StageError> {
    let mut first_time = false;
    let done = modify_record(records, id, |r| {
        if r.destinations.is_empty() || !all_settled(&r.destinations) {
            return None;
        }
        let urls: Vec<String> = r
            .destinations
            .iter()
            .filter_map(|d| match &d.state {
                DestinationState::Done { url, .. } => Some(url.clone()),
                _ => None,
            })
            .filter(|u| !r.links.contains(u))
            .collect();
        let opening =
            r.status == VideoStatus::Processing && r.stage(Stage::Publish) == StageStatus::Running;
        if !opening && (urls.is_empty() || r.status != VideoStatus::Published) {
            return None;
        }
        let mut links = urls;
        links.append(&mut r.links);
        r.links = links;
        if opening {
            let summary = r
                .destinations
                .iter()
                .map(|d| format!("{} {}", d.label(), d.state_name()))
                .collect::<Vec<_>>()
                .join(", ");
            r.status = VideoStatus::Published;
            r.set_stage(Stage::Publish, StageStatus::Done, Some(summary));
            first_time = true;
        }
        Some(())
    })
    .await?;
    let Some((video, ())) = done else {
        return Ok((read_record(records, id).await?, false));
    };
    if first_time {
        if let Err(e) = notifier.published(&video).await {
            warn!(video_id = %id, error = %e, "published, but the notification was not sent");
        }
    }
    Ok((video, first_time))
}

#[cfg(test)]
mod tests;

//! The cover stage: frame captures scored, the best copied to `cover.jpg`. In the
//! cloud the `rekognition` function runs it, with Rekognition's labels and faces on
//! top of the image measures (see [`crate::cover`] for the score). It starts when
//! the renditions job's outputs are recorded (a cover request), not on each frame
//! capture: captures may land before the job's COMPLETE, and a stage started by them
//! would wait for the queue's visibility timeout to look again.

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::{claim, modify_record, read_record, record_failure, Handled};
use crate::cover::{choose_cover, score_frame, FrameMeasures, FrameScore};
use crate::error::{InputError, StageError};
use crate::events::PipelineMessage;
use crate::keys::{self, VideoId};
use crate::plan::Plan;
use crate::ports::{FrameAnalyzer, MessageBus, Notifier, ObjectReader, ObjectWriter, VideoRecords};
use crate::record::{OutputFile, OutputKind, Stage, StageStatus, VideoRecord, VideoStatus};

/// Frames analysed at once. Each is a few requests to the analyser (Rekognition's
/// DetectLabels and DetectFaces, each under a transactions-per-second quota per
/// account and Region: AWS General Reference, "Amazon Rekognition endpoints and
/// quotas"), so a video of 30 captures is analysed in 8 rounds, not 30, without
/// bursting past the quota; a throttled analysis gives the claim back.
pub const FRAMES_AT_ONCE: usize = 4;

/// Cover, on a cover request (sent when the renditions job's outputs are recorded, so
/// every frame capture of the current plan is written): analyses the frame captures,
/// at most [`FRAMES_AT_ONCE`] at a time, chooses the cover, copies it to
/// `…/cover.jpg` and records the scores and labels. A repeated request finds it done.
///
/// # Errors
/// [`StageError::NotReady`] while the transcode is not yet recorded (a request that
/// overtook its job's outcome; the queue redelivers); a retryable analyser error
/// (the claim is given back); the record's errors.
pub async fn cover<S, R, A, B, N>(
    store: &S,
    records: &R,
    analyzer: &A,
    bus: &B,
    notifier: &N,
    id: &VideoId,
) -> Result<Handled, StageError>
where
    S: ObjectReader + ObjectWriter,
    R: VideoRecords,
    A: FrameAnalyzer,
    B: MessageBus,
    N: Notifier,
{
    let id = id.clone();
    let record = read_record(records, &id).await?;
    let now = crate::record::now_unix_s();
    if record.status != VideoStatus::Processing || !record.claimable(Stage::Cover, now) {
        return Ok(Handled::Skipped(
            id,
            "cover already chosen, in progress or not wanted".into(),
        ));
    }
    if record.stage(Stage::Transcode) != StageStatus::Done {
        return Err(StageError::NotReady(format!(
            "video {id}: transcode not yet recorded"
        )));
    }
    let Some(record) = claim(records, &id, Stage::Cover, |_| true).await? else {
        return Ok(Handled::Skipped(
            id,
            "another delivery took the cover".into(),
        ));
    };
    let chosen = match score_and_copy(store, analyzer, &record).await {
        Ok(chosen) => chosen,
        Err(e) => return Err(record_failure(records, notifier, &id, Stage::Cover, e).await),
    };
    let stored = modify_record(records, &id, |r| {
        let same_claim =
            r.generation == record.generation && r.stage(Stage::Cover) == StageStatus::Running;
        same_claim.then(|| record_cover(r, &chosen))
    })
    .await?;
    if stored.is_none() {
        return Ok(Handled::Skipped(
            id,
            "the video was planned again while its cover was chosen".into(),
        ));
    }
    bus.send(PipelineMessage::PartRecorded {
        video_id: id.clone(),
        stage: Stage::Cover,
    })
    .await?;
    Ok(Handled::Done(id))
}

/// What the cover stage found: every frame's score, the cover (none when no frame
/// capture was written) and the labels, most frequent first.
struct Chosen {
    frames: Vec<FrameScore>,
    cover: Option<OutputFile>,
    labels: Vec<String>,
}

fn record_cover(r: &mut VideoRecord, chosen: &Chosen) {
    r.frames = chosen.frames.clone();
    r.labels = chosen.labels.clone();
    r.outputs.retain(|o| o.kind != OutputKind::Cover);
    match &chosen.cover {
        Some(c) => {
            r.cover_key = Some(c.key.clone());
            r.outputs.push(c.clone());
            r.set_stage(Stage::Cover, StageStatus::Done, None);
        }
        None => r.set_stage(
            Stage::Cover,
            StageStatus::Skipped,
            Some("no frame captures were written".into()),
        ),
    }
}

async fn score_and_copy<S: ObjectReader + ObjectWriter, A: FrameAnalyzer>(
    store: &S,
    analyzer: &A,
    record: &VideoRecord,
) -> Result<Chosen, StageError> {
    let plan = record
        .plan
        .as_ref()
        .ok_or_else(|| InputError::Other("no plan recorded".into()))?;
    let plan_keys = record.keys();
    let captures: Vec<_> = store
        .list(&plan_keys.frames_dir())
        .await?
        .into_iter()
        .filter_map(|o| keys::frame_capture_index(&o.key).map(|i| (o, i)))
        .collect();
    let work = captures.iter().map(|(o, index)| (o.key.clone(), *index));
    let analysed: Vec<_> = stream::iter(work.collect::<Vec<_>>())
        .map(|(key, index)| async move { score_one(analyzer, plan, &key, index).await })
        .buffered(FRAMES_AT_ONCE)
        .try_collect()
        .await?;
    let sizes: Vec<u64> = captures.iter().map(|(o, _)| o.size_bytes).collect();
    let mut labels = LabelCounts::default();
    let frames = analysed
        .into_iter()
        .map(|(frame, found)| {
            labels.add(found);
            frame
        })
        .collect::<Vec<_>>();
    let labels = labels.most_frequent_first();
    let Some(best) = choose_cover(&frames) else {
        return Ok(Chosen {
            frames,
            cover: None,
            labels,
        });
    };
    let cover_key = plan_keys.cover();
    // A server-side copy: the cover is as large as the capture listed above.
    store.copy(&frames[best].key, &cover_key).await?;
    let cover = OutputFile {
        key: cover_key,
        kind: OutputKind::Cover,
        name: None,
        codec: "mjpeg".into(),
        width_px: plan.frames.as_ref().map(|f| f.width_px),
        height_px: plan.frames.as_ref().map(|f| f.height_px),
        bitrate_bps: None,
        duration_s: None,
        bytes: sizes[best],
    };
    Ok(Chosen {
        frames,
        cover: Some(cover),
        labels,
    })
}

/// Scores frame capture `index`, with the labels found in it; an unreadable one
/// scores 0 with the reason.
async fn score_one<A: FrameAnalyzer>(
    analyzer: &A,
    plan: &Plan,
    key: &str,
    index: u32,
) -> Result<(FrameScore, Vec<String>), StageError> {
    let time_s = plan.frames.as_ref().map_or(0.0, |f| f.time_of_s(index));
    let (fade_in_end_s, fade_out_start_s) = (plan.fades.fade_in_s, plan.fades.fade_out_start_s);
    match analyzer.analyze(key).await {
        Ok(a) => {
            let mut frame = score_frame(
                key,
                time_s,
                a.measures,
                a.detection_bonus,
                fade_in_end_s,
                fade_out_start_s,
            );
            frame.faces = a.faces;
            Ok((frame, a.labels))
        }
        Err(e) if e.is_retryable() => Err(e.into()),
        Err(e) => {
            let zero = FrameMeasures {
                mean_luma: 0.0,
                luma_stddev: 0.0,
                laplacian_variance: 0.0,
            };
            let mut f = score_frame(key, time_s, zero, 0.0, fade_in_end_s, fade_out_start_s);
            f.score = 0.0;
            f.rejected = Some(format!("unreadable: {e}"));
            Ok((f, Vec::new()))
        }
    }
}

/// How many frames carried each label, in first-seen order.
#[derive(Default)]
struct LabelCounts(Vec<(String, usize)>);

impl LabelCounts {
    fn add(&mut self, labels: Vec<String>) {
        for label in labels {
            match self.0.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => self.0.push((label, 1)),
            }
        }
    }

    fn most_frequent_first(mut self) -> Vec<String> {
        self.0
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.0.into_iter().map(|(l, _)| l).collect()
    }
}

#[cfg(test)]
mod tests;

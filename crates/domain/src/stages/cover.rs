//! The cover stage: frame captures scored, the best copied to `cover.jpg`. In the
//! cloud the `rekognition` function runs it, with Rekognition's labels and faces on
//! top of the image measures (see [`crate::cover`] for the score).

use super::{claim, modify_record, read_record, record_failure, Handled};
use crate::cover::{choose_cover, score_frame, FrameMeasures, FrameScore};
use crate::error::{InputError, StageError};
use crate::events::PipelineMessage;
use crate::keys;
use crate::plan::Plan;
use crate::ports::{FrameAnalyzer, MessageBus, Notifier, ObjectReader, ObjectWriter, VideoRecords};
use crate::record::{OutputFile, OutputKind, Stage, StageStatus, VideoRecord, VideoStatus};

/// Cover, on a frame capture created: once the transcode is recorded, analyses every
/// frame capture of the video, chooses the cover, copies it to `media/<id>/cover.jpg`
/// and records the scores and labels. The first frame event does the work; the others
/// find it done.
///
/// # Errors
/// [`StageError::NotReady`] while the transcode is not yet recorded (the queue
/// redelivers); [`InputError::Other`] for a key that names no video.
pub async fn cover<S, R, A, B, N>(
    store: &S,
    records: &R,
    analyzer: &A,
    bus: &B,
    notifier: &N,
    frame_key: &str,
) -> Result<Handled, StageError>
where
    S: ObjectReader + ObjectWriter,
    R: VideoRecords,
    A: FrameAnalyzer,
    B: MessageBus,
    N: Notifier,
{
    let id = keys::video_id_in(frame_key).ok_or_else(|| {
        InputError::Other(format!("{frame_key}: not a frame capture key of a video"))
    })?;
    let record = read_record(records, &id).await?;
    if record.status != VideoStatus::Processing
        || record.stage(Stage::Cover) != StageStatus::Pending
    {
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
    modify_record(records, &id, |r| {
        record_cover(r, &chosen);
        Some(())
    })
    .await?;
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
    let mut frames = Vec::new();
    let mut sizes = Vec::new();
    let mut labels = LabelCounts::default();
    for object in store.list(&keys::frames_dir(&record.id)).await? {
        let Some(index) = keys::frame_capture_index(&object.key) else {
            continue;
        };
        sizes.push(object.size_bytes);
        frames.push(score_one(analyzer, plan, &object.key, index, &mut labels).await?);
    }
    let labels = labels.most_frequent_first();
    let Some(best) = choose_cover(&frames) else {
        return Ok(Chosen {
            frames,
            cover: None,
            labels,
        });
    };
    let cover_key = keys::cover(&record.id);
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

/// Scores frame capture `index`; an unreadable one scores 0 with the reason.
async fn score_one<A: FrameAnalyzer>(
    analyzer: &A,
    plan: &Plan,
    key: &str,
    index: u32,
    labels: &mut LabelCounts,
) -> Result<FrameScore, StageError> {
    let time_s = plan.frames.as_ref().map_or(0.0, |f| f.time_of_s(index));
    let (fade_in_end_s, fade_out_start_s) = (plan.fades.fade_in_s, plan.fades.fade_out_start_s);
    match analyzer.analyze(key).await {
        Ok(a) => {
            labels.add(a.labels);
            Ok(score_frame(
                key,
                time_s,
                a.measures,
                a.detection_bonus,
                fade_in_end_s,
                fade_out_start_s,
            ))
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
            Ok(f)
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

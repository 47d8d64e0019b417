//! The cover stage: started by the renditions job's end, not by its frame captures,
//! and analysing a bounded number of frames at once.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::dispatch::Adapters;
use crate::error::PortError;
use crate::events::{route, PipelineEvent, PipelineMessage};
use crate::fakes::*;
use crate::ports::{FrameAnalysis, FrameAnalyzer};
use crate::record::{Stage, StageStatus};
use crate::router::run;
use crate::stages::test_world::*;
use crate::stages::{Handled, IngestOptions, FRAMES_AT_ONCE};

#[tokio::test]
async fn frames_written_before_the_job_completes_wait_for_its_end_not_for_a_retry() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    // MediaConvert writes its frame captures before its COMPLETE event: they start
    // nothing (before, the cover stage ran on each and failed "not ready" until the
    // queue's visibility timeout brought it back).
    let record = w.record(&id);
    transcoder.write_outputs(&record.keys(), record.plan.as_ref().unwrap());
    let frames: Vec<_> = w
        .store
        .take_created()
        .into_iter()
        .filter(|o| crate::keys::frame_capture_index(&o.key).is_some())
        .collect();
    assert!(!frames.is_empty());
    for frame in frames {
        assert_eq!(
            route(&PipelineEvent::ObjectCreated(frame.clone())),
            None,
            "{}",
            frame.key
        );
    }
    assert_eq!(w.record(&id).stage(Stage::Cover), StageStatus::Pending);
    // The COMPLETE, through the router: the cover is chosen at once, first delivery.
    let change = PipelineMessage::JobStateChanged(w.complete_change(&transcoder, &id));
    let analyzer = FakeAnalyzer { store: &w.store };
    let adapters = Adapters::new(&w.store, &w.records, &w.recorder)
        .with_prober(&w.prober)
        .with_transcoder(&transcoder)
        .with_analyzer(&analyzer)
        .with_publisher(&w.recorder)
        .with_transcriber(None::<&FakeTranscriber>);
    let report = run(
        &adapters,
        &w.config,
        PipelineEvent::Message(change),
        &IngestOptions::default(),
    )
    .await;
    assert!(report.dead_letters.is_empty(), "{:?}", report.dead_letters);
    let covers: Vec<_> = report
        .deliveries
        .iter()
        .filter(|d| d.stage == Stage::Cover)
        .collect();
    assert_eq!(covers.len(), 1, "one delivery, no retry: {covers:?}");
    let rec = w.record(&id);
    assert_eq!(rec.stage(Stage::Cover), StageStatus::Done);
    assert_eq!(rec.cover_key, Some(rec.keys().cover()));
    assert_eq!(
        rec.frames.len(),
        rec.plan.unwrap().frames.unwrap().count as usize
    );
}

/// An analyser that counts how many analyses run at once.
struct Counting<'a> {
    inner: FakeAnalyzer<'a>,
    now: AtomicUsize,
    most: AtomicUsize,
    /// A frame whose analysis is refused as throttled.
    throttle: Option<u32>,
}

impl FrameAnalyzer for Counting<'_> {
    async fn analyze(&self, key: &str) -> Result<FrameAnalysis, PortError> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        let index = crate::keys::frame_capture_index(key);
        if index.is_some() && index == self.throttle {
            return Err(PortError::Throttled(format!("{key}: rate exceeded")));
        }
        self.inner.analyze(key).await
    }
}

#[tokio::test]
async fn frames_are_analysed_a_few_at_a_time_and_a_throttled_one_gives_the_claim_back() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 60.0).await;
    w.complete_renditions(&transcoder, &id).await;
    let count = w.record(&id).plan.unwrap().frames.unwrap().count as usize;
    assert!(count > 2 * FRAMES_AT_ONCE, "{count} frame captures");
    let analyse = |throttle| Counting {
        inner: FakeAnalyzer { store: &w.store },
        now: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        throttle,
    };
    let stage = |analyzer| {
        let w = &w;
        let id = id.clone();
        async move {
            crate::stages::cover(
                &w.store,
                &w.records,
                analyzer,
                &w.recorder,
                &w.recorder,
                &id,
            )
            .await
        }
    };
    let throttled = analyse(Some(3));
    let err = stage(&throttled).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(w.record(&id).stage(Stage::Cover), StageStatus::Pending);
    let counting = analyse(None);
    assert_eq!(stage(&counting).await.unwrap(), Handled::Done(id.clone()));
    let most = counting.most.load(Ordering::SeqCst);
    assert!(
        (2..=FRAMES_AT_ONCE).contains(&most),
        "{most} at once, of {count} frames"
    );
    assert_eq!(w.record(&id).frames.len(), count);
}

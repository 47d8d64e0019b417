//! The cover stage: frame captures that arrive before their job's end.

use crate::dispatch::Adapters;
use crate::error::StageError;
use crate::events::PipelineEvent;
use crate::fakes::*;
use crate::keys;
use crate::record::Stage;
use crate::router::run;
use crate::stages::test_world::*;
use crate::stages::IngestOptions;

#[tokio::test]
async fn frames_before_the_job_completes_are_retried_then_dead_lettered() {
    let w = World::new();
    let transcoder = FakeTranscoder::asynchronous(&w.store);
    let id = w.submitted_talk(&transcoder, 10.0).await;
    // MediaConvert writes a frame; its COMPLETE event never comes.
    w.store.insert(&keys::frame_capture(&id, 0), &[100]);
    let frame_event = w.store.take_created().pop().unwrap();
    let analyzer = FakeAnalyzer { store: &w.store };
    let adapters = Adapters {
        store: &w.store,
        prober: Some(&w.prober),
        records: &w.records,
        transcoder: Some(&transcoder),
        analyzer: Some(&analyzer),
        publisher: Some(&w.recorder),
        notifier: &w.recorder,
        transcriber: None::<&FakeTranscriber>,
    };
    let report = run(
        &adapters,
        &w.config,
        PipelineEvent::ObjectCreated(frame_event),
        &IngestOptions::default(),
    )
    .await;
    assert_eq!(
        report.deliveries.len(),
        crate::dispatch::MAX_RECEIVE_COUNT as usize
    );
    assert!(matches!(report.dead_letters[0].1, StageError::NotReady(_)));
    let rec = w.record(&id);
    assert_eq!(rec.failure.unwrap().stage, Stage::Cover);
}

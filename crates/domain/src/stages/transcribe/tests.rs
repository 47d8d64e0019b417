//! Speech: transcript, captions, tags and promo; silence, foreign speech, bad transcripts.

use crate::fakes::*;
use crate::keys;
use crate::record::{Stage, StageStatus, VideoStatus};
use crate::stages;
use crate::stages::test_world::*;

#[tokio::test]
async fn speech_gives_a_transcript_captions_tags_description_and_promo() {
    let w = speaking_world(FakeTranscriber::speaking(TALK, 3.5));
    w.store.insert("uploads/talk.json", br#"{"title":"Models in production","speakers":[{"name":"Ada"},{"name":"Grace"},{"name":"Alan"}],"tags":["MLOps"]}"#);
    let event = w.upload("uploads/talk.mp4", b"v", Some(media(60.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let (_, id) = w.run_to_published(&transcoder, event.clone()).await;
    let rec = w.record(&id);
    assert_eq!(rec.stage(Stage::TranscribeStart), StageStatus::Done);
    assert_eq!(
        w.transcriber_calls(),
        [keys::PlanKeys::new(&id, 0).audio_mp3()]
    );
    for name in [
        "transcript.json",
        "transcript.txt",
        "captions.srt",
        "captions.vtt",
    ] {
        assert!(
            w.store
                .keys()
                .contains(&keys::PlanKeys::new(&id, 0).transcript_file(name)),
            "{name}"
        );
    }
    let speech = rec.speech.as_ref().unwrap();
    assert!(
        speech
            .keywords
            .iter()
            .any(|k| k.to_lowercase().contains("machine learning")),
        "{:?}",
        speech.keywords
    );
    assert_eq!(rec.hashtags[0], "#MLOps");
    assert!(
        rec.hashtags.iter().any(|t| t == "#MachineLearning"),
        "{:?}",
        rec.hashtags
    );
    let description = rec.description.as_ref().unwrap();
    assert!(
        description.starts_with("Models in production\n\n"),
        "{description}"
    );
    assert!(
        description.contains("Speakers: Ada, Grace and Alan"),
        "{description}"
    );
    assert!(description.contains("#MLOps"), "{description}");
    let promo = speech.promo.as_ref().unwrap();
    assert!(promo.duration_s() <= 30.0 && !promo.segments.is_empty());
    assert!(promo
        .segments
        .iter()
        .all(|s| s.start_s >= 3.0 && s.end_s <= 57.0));
    // The promo clip was rendered from that plan before publishing, and is recorded.
    assert_eq!(transcoder.promos.lock().unwrap().len(), 1);
    assert_eq!(
        transcoder.promos.lock().unwrap()[0].segments,
        promo.segments
    );
    assert_eq!(rec.promo_render.as_ref().unwrap().status, StageStatus::Done);
    assert!(rec
        .outputs
        .iter()
        .any(|o| o.kind == crate::record::OutputKind::Promo
            && o.key == keys::PlanKeys::new(&id, 0).promo()));

    // The same transcript announced again changes nothing.
    let again = w.transcribe_store(&id).await.unwrap();
    assert!(matches!(again, stages::Handled::Skipped(..)));
    assert_eq!(w.recorder.published_count(), 1);
}

#[tokio::test]
async fn silence_succeeds_with_no_speech_tags() {
    let w = speaking_world(FakeTranscriber::speaking("", 0.0));
    let event = w.upload("uploads/quiet.mp4", b"q", Some(media(20.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let (_, id) = w.run_to_published(&transcoder, event).await;
    let rec = w.record(&id);
    let speech = rec.speech.unwrap();
    assert_eq!(
        (speech.word_count, speech.keywords.len(), speech.promo),
        (0, 0, None)
    );
    assert_eq!(
        rec.hashtags,
        vec!["#Person"],
        "only the visual label, no speech tags"
    );
    let srt = w
        .store
        .objects
        .lock()
        .unwrap()
        .get(&keys::PlanKeys::new(&id, 0).transcript_file("captions.srt"))
        .cloned()
        .unwrap();
    assert!(srt.is_empty());
}

#[tokio::test]
async fn low_confidence_speech_is_kept_and_marked_without_tags() {
    let mut t = FakeTranscriber::speaking(
        "Das Wetter ist heute sehr schön und wir gehen spazieren.",
        1.0,
    );
    t.transcript.low_confidence = true;
    let w = speaking_world(t);
    let event = w.upload("uploads/de.mp4", b"d", Some(media(20.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let (_, id) = w.run_to_published(&transcoder, event).await;
    let speech = w.record(&id).speech.unwrap();
    assert!(speech.low_confidence && speech.word_count > 5 && speech.keywords.is_empty());
}

#[tokio::test]
async fn a_malformed_or_failed_transcript_fails_the_video_with_the_reason() {
    for (bytes, reason) in [
        (&b"{\"results\": "[..], "not Amazon Transcribe output JSON"),
        (&br#"{"jobName":"vidpipe-x","status":"FAILED","failure_reason":"The media format is not supported"}"#[..], "The media format is not supported"),
    ] {
        let mut t = FakeTranscriber::speaking("unused", 0.0);
        t.asynchronous = true; // like Amazon Transcribe: the document comes later
        let w = speaking_world(t);
        let event = w.upload("uploads/talk.mp4", b"v", Some(media(20.0, true, true)));
        let transcoder = FakeTranscoder::new(&w.store);
        let id = w.run(&transcoder, event).await;
        assert_eq!(w.record(&id).stage(Stage::TranscribeStore), StageStatus::Pending);
        w.store.insert(&keys::PlanKeys::new(&id, 0).transcript_json(), bytes);
        let err = w.transcribe_store(&id).await.unwrap_err();
        assert!(!err.is_retryable());
        let rec = w.record(&id);
        let failure = rec.failure.unwrap();
        assert_eq!(failure.stage, Stage::TranscribeStore);
        assert!(failure.reason.contains(reason), "{}", failure.reason);
        assert_eq!(w.recorder.published_count(), 0);
    }
}

#[tokio::test]
async fn no_audio_stream_skips_transcription() {
    let w = speaking_world(FakeTranscriber::speaking(TALK, 1.0));
    let event = w.upload("uploads/mute.mp4", b"m", Some(media(20.0, true, false)));
    let transcoder = FakeTranscoder::new(&w.store);
    let id = w.run(&transcoder, event).await;
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published);
    assert_eq!(
        rec.stages[&Stage::TranscribeStart].detail.as_deref(),
        Some("no audio stream")
    );
    assert!(w.transcriber_calls().is_empty());
}

/// S3 answers a HEAD or GET of a missing key with 403 to a role without
/// `s3:ListBucket` (S3 API Reference, HeadObject): ingest looking for a sidecar that
/// is not there, and transcribe-store for captions not written yet, must not ask
/// that way. Transcription as in the cloud: the document comes later.
#[tokio::test]
async fn a_bucket_without_list_bucket_still_publishes_with_captions() {
    let mut t = FakeTranscriber::speaking(TALK, 3.5);
    t.asynchronous = true;
    let w = speaking_world(t);
    w.store
        .without_list_bucket
        .store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        crate::ports::ObjectReader::head(&w.store, "uploads/none.json")
            .await
            .is_err(),
        "the fake answers a missing key with 403"
    );
    let event = w.upload("uploads/talk.mp4", b"v", Some(media(60.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let id = w.run(&transcoder, event).await;
    let rec = w.record(&id);
    assert_eq!(rec.failure, None);
    assert_eq!(rec.stage(Stage::TranscribeStart), StageStatus::Done);
    let transcript = spoken(TALK, 3.5).to_transcribe_json();
    w.store
        .insert(&keys::PlanKeys::new(&id, 0).transcript_json(), &transcript);
    let handled = w.transcribe_store(&id).await;
    assert!(handled.is_ok(), "{handled:?}");
    assert_eq!(
        w.record(&id).stage(Stage::TranscribeStore),
        StageStatus::Done
    );
    let vtt = w
        .store
        .objects
        .lock()
        .unwrap()
        .get(&keys::PlanKeys::new(&id, 0).transcript_file("captions.vtt"))
        .cloned()
        .expect("captions.vtt written");
    assert!(String::from_utf8(vtt).unwrap().starts_with("WEBVTT"));
}

/// Audio outside the transcriber's limits (Amazon Transcribe: 500 ms to 4 hours,
/// 2 GB) is found at ingest: the speech stages are skipped with the reason, nothing
/// is asked of the transcriber, and the video is still published.
#[tokio::test]
async fn audio_beyond_the_transcribers_limits_skips_speech_with_the_reason() {
    let mut w = speaking_world(FakeTranscriber::speaking(TALK, 3.5));
    w.config.transcription_limits = Some(crate::stages::TranscriptionLimits::AMAZON_TRANSCRIBE);
    let event = w.upload(
        "uploads/all-day.mp4",
        b"v",
        Some(media(5.0 * 3600.0, true, true)),
    );
    let transcoder = FakeTranscoder::new(&w.store);
    let (_, id) = w.run_to_published(&transcoder, event).await;
    let rec = w.record(&id);
    for stage in [Stage::TranscribeStart, Stage::TranscribeStore] {
        assert_eq!(rec.stage(stage), StageStatus::Skipped);
        let why = rec.stages[&stage].detail.clone().unwrap();
        assert!(
            why.contains("05:00:00.000")
                && why.contains("Amazon Transcribe's limit of 04:00:00.000"),
            "{why}"
        );
    }
    assert!(w.transcriber_calls().is_empty());

    let limits = crate::stages::TranscriptionLimits::AMAZON_TRANSCRIBE;
    assert_eq!(limits.refusal(3600.0, 128_000), None);
    assert!(limits.refusal(0.2, 128_000).unwrap().contains("shorter"));
    assert!(limits
        .refusal(3.9 * 3600.0, 1_200_000)
        .unwrap()
        .contains("bytes"));
}

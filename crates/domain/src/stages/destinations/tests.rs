//! Publishing to destinations: exactly once through replays, crashes, drops, rate
//! limits, quotas and refused credentials, against in-memory platforms that keep what
//! they receive (the protocols themselves are tested against stand-ins in
//! `vidpipe-platforms`).

mod world;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use super::*;
use crate::destinations::upload::{Cut, Extra, UploadFailure, UploadItem};
use crate::destinations::Platform;
use crate::fakes::*;
use crate::outbox::NotifyConfig;
use crate::record::{OutputKind, Stage, StageStatus, VideoStatus};
use crate::stages::test_world::World;
use world::*;

/// 2026-12-03T02:30:00Z (18:30 on the 2nd, Pacific time).
const NOW: i64 = 1_796_265_000;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../../../tests/fixtures/platforms/", $name))
    };
}

#[tokio::test]
async fn three_destinations_are_published_once_and_then_the_speakers_are_emailed() {
    let w = World::new();
    let p = FakePlatforms::default();
    let id = talk(
        &w,
        &p,
        r#"[{"to":"youtube","privacy":"unlisted","playlist":"PL1"},{"to":"vimeo"},{"to":"facebook"}]"#,
    )
    .await;
    let rec = w.record(&id);
    // Publishing waits for the platforms: not yet published, nobody told.
    assert_eq!(rec.status, VideoStatus::Processing);
    assert_eq!(rec.stage(Stage::Publish), StageStatus::Running);
    assert_eq!(rec.destinations.len(), 3);
    assert!(rec
        .destinations
        .iter()
        .all(|d| d.state == DestinationState::Pending));
    assert!(w.recorder.notified_published.lock().unwrap().is_empty());
    let mailer = FakeMailer::default();
    let config = NotifyConfig {
        email: true,
        ..NotifyConfig::default()
    };
    let early = crate::stages::notify(&w.records, Some(&mailer), None::<&FakeSheet>, &config, &id)
        .await
        .unwrap();
    assert!(early.sent.is_empty() && mailer.sent.lock().unwrap().is_empty());

    let t = AtomicI64::new(NOW);
    let report = pass(&w, &p, &id, &t).await;
    assert!(report.published && report.settled(), "{report:?}");
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published);
    for (i, to) in Platform::ALL.into_iter().enumerate() {
        let site = p.site(to, |s| (s.starts, s.bytes_received, s.videos.clone()));
        assert_eq!(site.0, 1, "{to:?}: one upload session");
        assert_eq!(site.1, 1000, "{to:?}: every byte once");
        assert_eq!(site.2.len(), 1);
        assert_eq!(site.2[0].1, file_of(1000), "{to:?}: the file as it is");
        let url = format!("https://{}.example/{}-video-1", to.name(), to.name());
        assert_eq!(
            state(&w, &id, i),
            DestinationState::Done {
                platform_id: format!("{}-video-1", to.name()),
                url: url.clone()
            }
        );
        assert_eq!(rec.links[i], url, "the platforms' links come first");
    }
    assert!(
        rec.links.contains(&format!("mem://{id}")),
        "its own link stays"
    );
    // The cover as YouTube's and Vimeo's thumbnail; YouTube's playlist.
    let yt: Vec<Extra> = p.site(Platform::YouTube, |s| {
        s.extras.iter().map(|e| e.1).collect()
    });
    assert_eq!(yt, vec![Extra::Thumbnail, Extra::Playlist]);
    let vimeo: Vec<Extra> = p.site(Platform::Vimeo, |s| s.extras.iter().map(|e| e.1).collect());
    assert_eq!(vimeo, vec![Extra::Thumbnail]);
    assert_eq!(w.recorder.notified_published.lock().unwrap().len(), 1);

    // A replayed pass (a replayed event, the scheduled pass): nothing moves again.
    let again = pass(&w, &p, &id, &t).await;
    assert!(!again.published);
    for to in Platform::ALL {
        assert_eq!(p.site(to, |s| (s.starts, s.bytes_received)), (1, 1000));
    }
    assert_eq!(w.recorder.notified_published.lock().unwrap().len(), 1);

    // Now the speakers are emailed, with the platforms' links.
    crate::stages::notify(&w.records, Some(&mailer), None::<&FakeSheet>, &config, &id)
        .await
        .unwrap();
    let sent = mailer.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .text
            .contains("https://youtube.example/youtube-video-1"),
        "{}",
        sent[0].text
    );
    assert!(sent[0].text.contains("Hello Ada"));
}

#[tokio::test]
async fn a_dropped_connection_resumes_from_the_platforms_offset_and_a_rate_limit_waits_its_hint() {
    let w = World::new();
    let p = FakePlatforms::default();
    let id = talk(&w, &p, r#"[{"to":"vimeo"}]"#).await;
    let t = AtomicI64::new(NOW);
    // The connection drops in the fourth chunk, half of it kept.
    p.drop_after.lock().unwrap().insert(Platform::Vimeo, 3);
    pass(&w, &p, &id, &t).await;
    let DestinationState::Deferred {
        until_unix_s,
        resume,
        ..
    } = state(&w, &id, 0)
    else {
        panic!("{:?}", state(&w, &id, 0));
    };
    assert_eq!(until_unix_s, NOW + 30, "no hint: the first backoff");
    assert!(matches!(*resume, DestinationState::Uploading { .. }));
    assert_eq!(p.site(Platform::Vimeo, |s| s.bytes_received), 3 * 64 + 32);
    // Then Vimeo limits the rate: 429 with X-RateLimit-Reset 90 s on.
    let reset = crate::destinations::clock::format_utc(NOW + 30 + 90);
    p.fail(
        Platform::Vimeo,
        "send",
        UploadFailure::Answered {
            status: 429,
            headers: vec![("X-RateLimit-Reset".into(), reset)],
            body: fixture!("vimeo-rate-limited.json").into(),
        },
    );
    t.store(NOW + 29, Ordering::SeqCst);
    let early = pass(&w, &p, &id, &t).await;
    assert_eq!(
        early.next_due_unix_s,
        Some(NOW + 30),
        "not due yet: nothing asked"
    );
    t.store(NOW + 30, Ordering::SeqCst);
    pass(&w, &p, &id, &t).await;
    assert!(
        matches!(state(&w, &id, 0), DestinationState::Deferred { until_unix_s, .. } if until_unix_s == NOW + 120),
        "{:?}",
        state(&w, &id, 0)
    );
    t.store(NOW + 120, Ordering::SeqCst);
    let done = pass(&w, &p, &id, &t).await;
    assert!(done.published, "{done:?}");
    let (starts, received, videos) = p.site(Platform::Vimeo, |s| {
        (s.starts, s.bytes_received, s.videos.clone())
    });
    assert_eq!(
        (starts, received),
        (1, 1000),
        "one session, every byte once"
    );
    assert_eq!(videos[0].1, file_of(1000));
}

#[tokio::test]
async fn a_spent_quota_defers_to_pacific_midnight_and_one_failure_does_not_hold_back_the_others() {
    let w = World::new();
    let p = FakePlatforms::default();
    let id = talk(
        &w,
        &p,
        r#"[{"to":"youtube"},{"to":"vimeo"},{"to":"facebook","vertical":true}]"#,
    )
    .await;
    p.fail(
        Platform::YouTube,
        "start",
        UploadFailure::Answered {
            status: 403,
            headers: vec![],
            body: fixture!("youtube-quota-exceeded.json").into(),
        },
    );
    p.fail(
        Platform::Vimeo,
        "start",
        UploadFailure::Answered {
            status: 401,
            headers: vec![],
            body: fixture!("vimeo-unauthenticated.json").into(),
        },
    );
    let t = AtomicI64::new(NOW);
    let first = pass(&w, &p, &id, &t).await;
    // 18:30 PST: the quota comes back at midnight Pacific, 08:00 UTC.
    let midnight = NOW + 5 * 3600 + 30 * 60;
    assert_eq!(first.next_due_unix_s, Some(midnight));
    assert!(!first.published);
    let rec = w.record(&id);
    assert!(matches!(
        rec.destinations[1].state,
        DestinationState::NeedsAuth { .. }
    ));
    assert!(matches!(
        rec.destinations[2].state,
        DestinationState::Done { .. }
    ));
    // The vertical cut was asked for but not made (this talk has no promo): that
    // destination fails with the reason, the others go on.
    assert_eq!(rec.destinations[3].cut, Cut::Vertical);
    match &rec.destinations[3].state {
        DestinationState::Failed { reason } => assert!(reason.contains("vertical cut"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rec.status,
        VideoStatus::Processing,
        "YouTube is still to come"
    );
    // Before midnight nothing is asked of YouTube; at midnight it goes.
    t.store(midnight - 1, Ordering::SeqCst);
    pass(&w, &p, &id, &t).await;
    assert_eq!(p.site(Platform::YouTube, |s| s.starts), 0);
    t.store(midnight, Ordering::SeqCst);
    let last = pass(&w, &p, &id, &t).await;
    assert!(last.published && last.settled(), "{last:?}");
    let rec = w.record(&id);
    assert_eq!(rec.status, VideoStatus::Published);
    let detail = rec.stages[&Stage::Publish].detail.clone().unwrap();
    assert_eq!(
        detail,
        "youtube done, vimeo needs-auth, facebook done, facebook (vertical) failed"
    );
    // Renewed credentials: the same destination goes on, and the video's links grow.
    {
        let mut rows = w.records.rows.lock().unwrap();
        assert!(rows.get_mut(&id).unwrap().destinations[1].renew());
    }
    let renewed = pass(&w, &p, &id, &t).await;
    assert!(!renewed.published, "published once only");
    assert!(w
        .record(&id)
        .links
        .iter()
        .any(|l| l.starts_with("https://vimeo.example/")));
    assert_eq!(w.recorder.notified_published.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_crashed_run_and_a_deadline_resume_the_same_upload() {
    let w = World::new();
    let p = FakePlatforms::default();
    let id = talk(&w, &p, r#"[{"to":"youtube"}]"#).await;
    let t = AtomicI64::new(NOW);
    // A Lambda near its deadline: one chunk, then the offset recorded and handed on.
    let now = clock_at(&t);
    let soon = Some(Instant::now() + std::time::Duration::from_secs(3600));
    publish_to_destinations(&w.records, &p, &w.recorder, &id, &now, soon)
        .await
        .unwrap();
    match state(&w, &id, 0) {
        DestinationState::Uploading { offset, .. } => assert_eq!(offset, 64),
        other => panic!("{other:?}"),
    }
    // An hour away the deadline has not come: nothing to hand over.
    let handed = publish_to_destinations(&w.records, &p, &w.recorder, &id, &now, soon)
        .await
        .unwrap();
    assert!(!handed.stopped_at_deadline);
    let past = Some(Instant::now());
    let handed = publish_to_destinations(&w.records, &p, &w.recorder, &id, &now, past)
        .await
        .unwrap();
    assert!(handed.stopped_at_deadline, "{handed:?}");
    assert!(
        w.record(&id).destinations[0].lease.is_none(),
        "the lease is given back"
    );
    // Another run holds it (a live lease): this pass leaves it alone.
    {
        let mut rows = w.records.rows.lock().unwrap();
        rows.get_mut(&id).unwrap().destinations[0].lease = Some(Lease {
            holder: "another run".into(),
            expires_unix_s: (NOW + 900) as u64,
        });
    }
    let sent = p.site(Platform::YouTube, |s| s.bytes_received);
    assert_eq!(sent, 3 * 64, "three passes with a deadline, a chunk each");
    let held = pass(&w, &p, &id, &t).await;
    assert_eq!(held.held_elsewhere.len(), 1, "{held:?}");
    assert!(
        !held.stopped_at_deadline,
        "held by another run: not ours to hand over"
    );
    assert_eq!(p.site(Platform::YouTube, |s| s.bytes_received), sent);
    // Its holder died: once the lease runs out, the upload goes on from the offset.
    t.store(NOW + 900, Ordering::SeqCst);
    let done = pass(&w, &p, &id, &t).await;
    assert!(done.published, "{done:?}");
    assert_eq!(
        p.site(Platform::YouTube, |s| (s.starts, s.bytes_received)),
        (1, 1000)
    );
}

#[tokio::test]
async fn processing_is_asked_again_later_and_a_refused_playlist_is_noted_not_fatal() {
    let w = World::new();
    let p = FakePlatforms::default();
    let id = talk(
        &w,
        &p,
        r#"[{"to":"youtube","playlist":"PL-gone"},{"to":"facebook"}]"#,
    )
    .await;
    p.processing.lock().unwrap().insert(Platform::Facebook, 1);
    // YouTube's answer to a playlist that is not there (Data API errors,
    // playlistItems.insert: 404 playlistNotFound).
    p.fail(
        Platform::YouTube,
        "playlist",
        UploadFailure::Answered {
            status: 404,
            headers: vec![],
            body: r#"{"error":{"code":404,"message":"Playlist not found.","errors":[{"domain":"youtube.playlistItem","reason":"playlistNotFound","message":"Playlist not found."}]}}"#.into(),
        },
    );
    let t = AtomicI64::new(NOW);
    let first = pass(&w, &p, &id, &t).await;
    assert_eq!(first.next_due_unix_s, Some(NOW + PROCESSING_POLL_S));
    let yt = &w.record(&id).destinations[0];
    assert!(
        matches!(yt.state, DestinationState::Done { .. }),
        "{:?}",
        yt.state
    );
    assert_eq!(yt.extras_done, vec![Extra::Thumbnail, Extra::Playlist]);
    assert_eq!(yt.notes.len(), 1, "{:?}", yt.notes);
    assert!(yt.notes[0].starts_with("playlist: "), "{:?}", yt.notes);
    t.store(NOW + PROCESSING_POLL_S, Ordering::SeqCst);
    assert!(pass(&w, &p, &id, &t).await.published);
    assert_eq!(p.site(Platform::Facebook, |s| s.polls), 2);
}

#[test]
fn a_video_without_a_promo_has_no_vertical_item_and_captions_follow_the_transcript() {
    let mut rec = crate::record::VideoRecord::new(
        VideoId::parse("0123456789abcdef").unwrap(),
        "uploads/a.mp4",
        "a.mp4",
    );
    assert!(UploadItem::of(&rec, Cut::Full)
        .unwrap_err()
        .contains("no MP4 rendition"));
    rec.outputs.push(crate::record::OutputFile {
        key: rec.keys().rendition("720p"),
        kind: OutputKind::Rendition,
        name: Some("720p".into()),
        codec: "h264+aac".into(),
        width_px: Some(1280),
        height_px: Some(720),
        bitrate_bps: None,
        duration_s: None,
        bytes: 5,
    });
    let item = UploadItem::of(&rec, Cut::Full).unwrap();
    assert_eq!(item.file_name, "video_720p.mp4");
    assert_eq!(item.captions_vtt_key, None);
    assert!(UploadItem::of(&rec, Cut::Vertical).is_err());
}

#[tokio::test]
async fn nothing_goes_up_before_the_video_s_own_parts_are_done() {
    let w = World::new();
    let p = FakePlatforms::default();
    let id = talk(&w, &p, r#"[{"to":"vimeo"}]"#).await;
    let t = AtomicI64::new(NOW);
    // As `vidpipe publish ID --to vimeo` would leave a video still transcoding.
    let set_publish = |status| {
        let mut rows = w.records.rows.lock().unwrap();
        rows.get_mut(&id)
            .unwrap()
            .set_stage(Stage::Publish, status, None);
    };
    set_publish(StageStatus::Pending);
    let early = pass(&w, &p, &id, &t).await;
    assert!(!early.published);
    assert!(early.waiting_for_parts);
    assert_eq!(
        early.next_due_unix_s, None,
        "nothing is due: no run may spin on it"
    );
    assert_eq!(p.site(Platform::Vimeo, |s| s.starts), 0);
    assert_eq!(state(&w, &id, 0), DestinationState::Pending);
    set_publish(StageStatus::Running);
    assert!(pass(&w, &p, &id, &t).await.published);
    assert_eq!(p.site(Platform::Vimeo, |s| s.starts), 1);
}

//! The publish function publishing to YouTube, Vimeo and a Facebook Page: the same
//! stand-ins as the CLI's tests (`tests/tus/platforms.mjs`, Vimeo's uploads on a real
//! tus server), the bucket, table, queues and secrets on moto behind the real SDK
//! clients. Uploads read the MP4 from S3 by byte range, are handed over from one
//! invocation to the next at the deadline, and every byte reaches each platform once.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vidpipe_aws::config::ConfigError;
use vidpipe_domain::destinations::state::DestinationState;
use vidpipe_domain::events::PipelineMessage;
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{
    OutputFile, OutputKind, Stage, StageStatus, VideoRecord, VideoStatus,
};
use vidpipe_domain::sidecar::Sidecar;
use vidpipe_domain::stages::{reconcile, ReconcileConfig};
use vidpipe_platforms::stand_in::NodeServer;

struct Platforms(NodeServer);

fn platforms(dir: &Path) -> Platforms {
    Platforms(NodeServer::start("platforms.mjs", dir))
}

impl Platforms {
    async fn state(&self) -> Value {
        reqwest::get(format!("{}/_state", self.0.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A world whose publish function publishes to the three platforms, with the
/// secrets named in `secrets` (platform → its JSON) made in Secrets Manager.
async fn world(p: &Platforms, secrets: &[(&str, Value)]) -> World {
    let url = &p.0.url;
    let env = [
        (
            "VIDPIPE_PUBLISH_TO",
            r#"[{"to":"youtube","privacy":"unlisted"},{"to":"vimeo"},{"to":"facebook"}]"#
                .to_string(),
        ),
        ("VIDPIPE_YOUTUBE_SECRET", "vidpipe-youtube".into()),
        ("VIDPIPE_VIMEO_SECRET", "vidpipe-vimeo".into()),
        ("VIDPIPE_FACEBOOK_SECRET", "vidpipe-facebook".into()),
        ("VIDPIPE_YOUTUBE_API", format!("{url}/youtube")),
        ("VIDPIPE_GOOGLE_TOKEN_URL", format!("{url}/google/token")),
        ("VIDPIPE_VIMEO_API", format!("{url}/vimeo")),
        ("VIDPIPE_FACEBOOK_API", format!("{url}/facebook")),
        ("VIDPIPE_UPLOAD_CHUNK", "262144".into()),
    ];
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let w = World::new(&pairs).await;
    let client = aws_sdk_secretsmanager::Client::new(&w.sdk);
    for (name, value) in secrets {
        client
            .create_secret()
            .name(format!("vidpipe-{name}"))
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap();
    }
    w
}

fn all_secrets() -> Vec<(&'static str, Value)> {
    vec![
        (
            "youtube",
            json!({"client_id": "c", "client_secret": "s", "refresh_token": "r"}),
        ),
        ("vimeo", json!({"access_token": "vimeo-test-token"})),
        (
            "facebook",
            json!({"app_id": "1234", "page_id": "100064123",
            "user_token": "fb-user-token", "page_token": "fb-page-token"}),
        ),
    ]
}

/// A video whose parts are all settled, its 720p MP4 in the bucket: its id and the
/// MP4's bytes.
async fn settled_video(w: &World) -> (VideoId, Vec<u8>) {
    let id = VideoId::parse("00c0ffee00c0ffee").unwrap();
    let mp4 = make_mp4(8, true);
    let key = format!("media/{id}/video_720p.mp4");
    w.put(&key, mp4.clone()).await;
    let mut rec = VideoRecord::new(
        id.clone(),
        "uploads/talk.mp4",
        "s3://vidpipe-media/uploads/talk.mp4",
    );
    rec.sidecar = Some(
        serde_json::from_value::<Sidecar>(json!({"title": "Right metrics",
            "speakers": [{"name": "Ada Lovelace", "email": "ada@example.org"}]}))
        .unwrap(),
    );
    rec.set_stage(Stage::Ingest, StageStatus::Done, None);
    rec.set_stage(Stage::Transcode, StageStatus::Done, None);
    for stage in [Stage::TranscribeStart, Stage::TranscribeStore, Stage::Cover] {
        rec.set_stage(stage, StageStatus::Skipped, Some("not in this test".into()));
    }
    rec.outputs.push(OutputFile {
        key,
        kind: OutputKind::Rendition,
        name: Some("720p".into()),
        codec: "h264+aac".into(),
        width_px: Some(1280),
        height_px: Some(720),
        bitrate_bps: None,
        duration_s: Some(8.0),
        bytes: mp4.len() as u64,
    });
    w.function.records.create(&rec).await.unwrap();
    (id, mp4)
}

fn part_recorded(id: &VideoId) -> String {
    serde_json::to_string(&PipelineMessage::PartRecorded {
        video_id: id.clone(),
        stage: Stage::Cover,
    })
    .unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_are_handed_over_at_the_deadline_and_reach_each_platform_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = platforms(dir.path());
    let mut w = world(&p, &all_secrets()).await;
    w.function.read_platform_credentials().await.unwrap();
    let (id, mp4) = settled_video(&w).await;
    assert!(mp4.len() > 262_144, "several chunks: {} bytes", mp4.len());
    let stub = mediaconvert_stub();
    let fns = Functions::new(&w, &stub, None).await;
    // Every invocation is already at its deadline: each makes one step and hands over.
    *fns.stop_at.lock().unwrap() = Some(std::time::Instant::now());
    let mut invocations = 0;
    let mut event = sqs_event(&[part_recorded(&id)]);
    while !event.records.is_empty() {
        invocations += 1;
        assert!(invocations < 40, "no end to the handing over");
        let r = fns.handle("publish", event).await;
        assert!(failures(&r).is_empty(), "{:?}", failures(&r));
        event = w.drain("publish").await;
    }
    let chunks = mp4.len().div_ceil(262_144);
    assert!(
        invocations > chunks,
        "handed over {invocations} times for {chunks} chunks"
    );
    let rec = record(&w, &id).await;
    // Facebook processes the video: waiting for its time, which the reconciler drives.
    assert!(
        matches!(rec.destinations[2].state, DestinationState::Deferred { .. }),
        "{:?}",
        rec.destinations[2].state
    );
    assert_eq!(rec.status, VideoStatus::Processing);
    assert!(
        w.moto.sent_emails().is_empty(),
        "no email before the links exist"
    );
    // Its time comes (the record says so), the reconciler drives it again.
    let mut due = rec.clone();
    if let DestinationState::Deferred { until_unix_s, .. } = &mut due.destinations[2].state {
        *until_unix_s = 0;
    }
    w.function.records.update(&due).await.unwrap();
    let f = &w.function;
    let now = vidpipe_domain::record::now_unix_s();
    let driven = reconcile(
        &f.records,
        &f.bus,
        &f.notifier,
        &ReconcileConfig::default(),
        now,
    )
    .await
    .unwrap();
    assert_eq!(driven.len(), 1, "{driven:?}");
    *fns.stop_at.lock().unwrap() = None;
    let r = fns.handle("publish", w.drain("publish").await).await;
    assert!(failures(&r).is_empty());
    let rec = record(&w, &id).await;
    assert_eq!(rec.status, VideoStatus::Published, "{:?}", rec.destinations);
    let s = p.state().await;
    let digest = sha256(&mp4);
    let size = mp4.len() as u64;
    assert_eq!(s["youtube"]["starts"], 1);
    assert_eq!(s["youtube"]["accepted"], size, "every byte once");
    assert_eq!(
        s["youtube"]["videos"][0]["sha256"].as_str(),
        Some(digest.as_str())
    );
    assert_eq!(
        s["youtube"]["videos"][0]["meta"]["status"]["privacyStatus"],
        "unlisted"
    );
    let tus: Vec<&Value> = s["vimeo"]["uploads"]
        .as_object()
        .unwrap()
        .values()
        .collect();
    assert_eq!(tus.len(), 1);
    assert_eq!(tus[0]["sha256"].as_str(), Some(digest.as_str()));
    assert_eq!(s["facebook"]["accepted"], size);
    assert_eq!(
        s["facebook"]["videos"][0]["sha256"].as_str(),
        Some(digest.as_str())
    );
    // The speaker is emailed once, with the platforms' links.
    let emails = w.moto.sent_emails();
    let to_ada: Vec<_> = emails.iter().filter(|e| e.0 == "ada@example.org").collect();
    assert_eq!(to_ada.len(), 1, "{emails:?}");
    let yt = s["youtube"]["videos"][0]["id"].as_str().unwrap();
    assert!(
        to_ada[0]
            .2
            .contains(&format!("https://www.youtube.com/watch?v={yt}")),
        "{}",
        to_ada[0].2
    );
    // The same message again: nothing is uploaded again.
    let r = fns
        .handle("publish", sqs_event(&[part_recorded(&id)]))
        .await;
    assert!(failures(&r).is_empty());
    let again = p.state().await;
    for platform in ["youtube", "vimeo", "facebook"] {
        assert_eq!(again[platform]["starts"], 1, "{platform}");
    }
    // Every call the function made is allowed by its policy in the template.
    let checked = fns.check_policies("template.yaml");
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_need_auth_and_the_others_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let p = platforms(dir.path());
    // YouTube's refresh token was revoked; Vimeo has no secret in this deployment.
    let secrets = vec![
        (
            "youtube",
            json!({"client_id": "c", "client_secret": "s", "refresh_token": "revoked"}),
        ),
        all_secrets().remove(2),
    ];
    let mut w = world(&p, &secrets).await;
    w.function.config.platform_secrets.vimeo = None;
    w.function.read_platform_credentials().await.unwrap();
    let (id, _) = settled_video(&w).await;
    let stub = mediaconvert_stub();
    let fns = Functions::new(&w, &stub, None).await;
    let mut event = sqs_event(&[part_recorded(&id)]);
    // Facebook processes the video first: its time is made to come at once.
    for _ in 0..3 {
        let r = fns.handle("publish", event).await;
        assert!(failures(&r).is_empty());
        let mut rec = record(&w, &id).await;
        if let DestinationState::Deferred { until_unix_s, .. } = &mut rec.destinations[2].state {
            *until_unix_s = 0;
            w.function.records.update(&rec).await.unwrap();
        }
        event = sqs_event(&[part_recorded(&id)]);
    }
    let rec = record(&w, &id).await;
    assert_eq!(rec.status, VideoStatus::Published, "{:?}", rec.destinations);
    match &rec.destinations[0].state {
        DestinationState::NeedsAuth { reason, .. } => {
            assert!(reason.contains("refresh token is refused"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    match &rec.destinations[1].state {
        DestinationState::NeedsAuth { reason, .. } => {
            assert!(
                reason.contains("no vimeo credentials") && reason.contains("VimeoSecretArn"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        rec.destinations[2].state,
        DestinationState::Done { .. }
    ));
    assert!(rec.links[0].starts_with("https://www.facebook.com/100064123/videos/"));
    let s = p.state().await;
    assert_eq!(s["youtube"]["starts"], 0, "never retried blindly");
    // The speaker is emailed the link that exists.
    let emails = w.moto.sent_emails();
    assert!(
        emails.iter().any(|e| e.0 == "ada@example.org"),
        "{emails:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_that_is_not_credentials_fails_the_cold_start_naming_it_not_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = platforms(dir.path());
    let secrets = vec![("vimeo", json!({"token": "sekret-value-123"}))];
    let mut w = world(&p, &secrets).await;
    w.function.config.platform_secrets.youtube = None;
    w.function.config.platform_secrets.facebook = None;
    let err = w.function.read_platform_credentials().await.unwrap_err();
    let ConfigError::Bad { name, reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*name, "VIDPIPE_VIMEO_SECRET");
    assert!(
        reason.contains("not this platform's credentials"),
        "{reason}"
    );
    assert!(!err.to_string().contains("sekret-value-123"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stray_message_for_a_video_with_no_record_settles_without_uploading() {
    let dir = tempfile::tempdir().unwrap();
    let p = platforms(dir.path());
    let mut w = world(&p, &all_secrets()).await;
    w.function.read_platform_credentials().await.unwrap();
    let stub = mediaconvert_stub();
    let fns = Functions::new(&w, &stub, None).await;
    let nobody = VideoId::parse("0000000000000bad").unwrap();
    let r = fns
        .handle("publish", sqs_event(&[part_recorded(&nobody)]))
        .await;
    assert!(failures(&r).is_empty(), "{:?}", failures(&r));
    assert_eq!(p.state().await["youtube"]["starts"], 0);
    assert!(
        w.drain("publish").await.records.is_empty(),
        "nothing handed over"
    );
}

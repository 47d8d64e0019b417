//! The talk sheet and the outbox in the cloud, on moto behind the real SDK clients: the
//! service account key in Secrets Manager, the Google Sheet behind an HTTP stub that
//! answers in the Sheets API's documented shapes, the emails through SES.

mod common;

use common::*;
use serde_json::json;
use vidpipe_aws::handlers;
use vidpipe_aws::notify::LinksPublisher;
use vidpipe_aws::probe::S3Prober;
use vidpipe_domain::events::{ObjectCreated, PipelineMessage};
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{OutputFile, OutputKind, Stage, StageStatus, VideoStatus};
use vidpipe_domain::stages::{video_id_for, IdScheme};
use vidpipe_sheets::stub::GoogleStub;

const SHEET: &str = "1TalkSheetOfTheConference";
const SECRET: &str = "vidpipe/google-service-account";
const TITLE: &str = "Right metrics and wrong metrics: Is there such a thing4?";

/// The Sheets API with the spreadsheet's Talks and Speakers tabs.
async fn google_stub() -> GoogleStub {
    let talks = json!([
        ["Talk", "Speakers", "Start", "End"],
        ["Keynote", "Grace Hopper"],
        [TITLE, "Ada Lovelace and Grace Hopper", "1", "3"]
    ]);
    let speakers = json!([
        ["Name", "Email"],
        ["Ada Lovelace", "ada@example.org"],
        ["Grace Hopper", "grace@example.org"]
    ]);
    GoogleStub::start(SHEET, &[("Talks", talks), ("Speakers", speakers)]).await
}

async fn world(google: &GoogleStub) -> World {
    let api = google.server.uri();
    let mut w = World::new(&[
        ("VIDPIPE_TALK_SHEET", &format!("gsheet:{SHEET}")),
        ("VIDPIPE_GOOGLE_KEY_SECRET", SECRET),
        ("VIDPIPE_SHEETS_API", &api),
        ("VIDPIPE_ORGANISER_EMAIL", "org@example.org"),
    ])
    .await;
    aws_sdk_secretsmanager::Client::new(&w.sdk)
        .create_secret()
        .name(SECRET)
        .secret_string(google.key_json())
        .send()
        .await
        .unwrap();
    w.function.read_talk_sheet().await.unwrap();
    w
}

async fn id_of(w: &World, key: &str) -> VideoId {
    let head = w
        .function
        .clients
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    video_id_for(
        IdScheme::Object,
        &ObjectCreated {
            bucket: BUCKET.into(),
            key: key.into(),
            size_bytes: 0,
            etag: head.e_tag.map(|e| e.trim_matches('"').to_string()),
            version_id: None,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_fills_each_upload_from_its_row_and_publish_emails_and_writes_back_once() {
    let google = google_stub().await;
    let w = world(&google).await;
    let f = &w.function;
    let (bus, config) = (&f.bus, &f.config.pipeline);
    let talk_key = format!("uploads/{TITLE}.mp4");
    w.put(&talk_key, make_mp4(4, true)).await;
    w.put("uploads/Unlisted talk.mp4", make_mp4(4, true)).await;

    let prober = S3Prober { store: &f.store };
    let ingest = |event| {
        let adapters = f.adapters().with_prober(&prober);
        async move { handlers::handle(Stage::Ingest, &adapters, bus, config, f.around(), event).await }
    };
    let r = ingest(w.drain("ingest").await).await;
    assert!(r.batch_item_failures.is_empty());
    let id = id_of(&w, &talk_key).await;
    // The sidecar after its video, as the README's order has it: the video is taken
    // again, its row still filling what the sidecar leaves out.
    let sidecar_key = format!("uploads/{TITLE}.json");
    w.put(
        &sidecar_key,
        br#"{"description": "From the sidecar."}"#.to_vec(),
    )
    .await;
    let r = ingest(w.drain("ingest").await).await;
    assert!(r.batch_item_failures.is_empty());
    let rec = f.records.get(&id).await.unwrap().unwrap();
    let sidecar = rec.sidecar.clone().unwrap();
    assert_eq!(sidecar.description.as_deref(), Some("From the sidecar."));
    assert_eq!(sidecar.title.as_deref(), Some(TITLE));
    assert_eq!(
        sidecar.speakers[1].email.as_deref(),
        Some("grace@example.org")
    );
    assert_eq!(
        (
            rec.plan.as_ref().unwrap().clip.start_s,
            rec.plan.as_ref().unwrap().clip.end_s
        ),
        (1.0, 3.0)
    );
    assert_eq!(rec.talk.as_ref().unwrap().row_number, 3);
    // The upload with no row fails at ingest, naming the closest rows; nothing is
    // transcoded for it.
    let unlisted = f
        .records
        .get(&id_of(&w, "uploads/Unlisted talk.mp4").await)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unlisted.status, VideoStatus::Failed);
    let reason = &unlisted.failure.unwrap().reason;
    assert!(
        reason.contains("talk sheet: gsheet:") && reason.contains("closest rows"),
        "{reason}"
    );

    // The other parts settled, as the chain would leave them.
    let mut ready = rec.clone();
    ready.set_stage(Stage::Transcode, StageStatus::Done, None);
    for stage in [Stage::TranscribeStart, Stage::TranscribeStore, Stage::Cover] {
        ready.set_stage(stage, StageStatus::Skipped, Some("not in this test".into()));
    }
    ready.outputs.push(OutputFile {
        key: format!("media/{id}/video-360p.mp4"),
        kind: OutputKind::Rendition,
        name: Some("360p".into()),
        codec: "h264+aac".into(),
        width_px: Some(640),
        height_px: Some(360),
        bitrate_bps: None,
        duration_s: Some(2.0),
        bytes: 1,
    });
    f.records.update(&ready).await.unwrap();
    google
        .expect_batch_update(json!({
            "valueInputOption": "RAW",
            "data": [{"range": "'Talks'!E3"}, {"range": "'Talks'!E1", "values": [["Link"]]}]
        }))
        .await;
    let publisher = LinksPublisher {
        store: &f.store,
        expiry: f.config.link_expiry,
        base_url: f.config.media_base_url.clone(),
    };
    let message = serde_json::to_string(&PipelineMessage::PartRecorded {
        video_id: id.clone(),
        stage: Stage::Cover,
    })
    .unwrap();
    for _ in 0..2 {
        // Delivered twice, as SQS may: one email each, one write.
        let r = handlers::handle(
            Stage::Publish,
            &f.adapters().with_publisher(&publisher),
            bus,
            config,
            f.around(),
            sqs_event(std::slice::from_ref(&message)),
        )
        .await;
        assert!(r.batch_item_failures.is_empty());
    }
    let emails = w.moto.sent_emails();
    let mut to: Vec<&str> = emails.iter().map(|e| e.0.as_str()).collect();
    to.sort();
    // The organiser: told of the unlisted talk's failure, and of the talk published.
    assert_eq!(
        to,
        [
            "ada@example.org",
            "grace@example.org",
            "org@example.org",
            "org@example.org"
        ]
    );
    let mut organiser: Vec<&str> = emails
        .iter()
        .filter(|e| e.0 == "org@example.org")
        .map(|e| e.1.as_str())
        .collect();
    organiser.sort();
    assert!(
        organiser[0].starts_with("vidpipe: failed: Unlisted talk"),
        "{organiser:?}"
    );
    assert!(
        organiser[1].starts_with("vidpipe: published: Right metrics"),
        "{organiser:?}"
    );
    let rec = f.records.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.outbox.len(), 4, "three emails and the sheet's link");
    assert!(rec
        .outbox
        .iter()
        .all(|d| d.state == vidpipe_domain::outbox::DeliveryState::Sent));
}

//! The functions' handlers against AWS APIs served locally (moto), with the real SDK
//! clients: one upload through the whole chain, replayed; every bad input the issue
//! names; and every file in events/.

mod common;

use aws_lambda_events::event::sqs::SqsEvent;
use common::*;
use serde_json::{json, Value};
use vidpipe_aws::events::{read_body, Body};
use vidpipe_aws::handlers;
use vidpipe_aws::probe::S3Prober;
use vidpipe_domain::events::ObjectCreated;
use vidpipe_domain::keys::{self, VideoId};
use vidpipe_domain::record::{OutputKind, Stage, StageStatus, VideoStatus};
use vidpipe_domain::stages::{video_id_for, IdScheme};

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_goes_through_every_function_once_and_a_replay_changes_nothing() {
    let w = World::new(&[]).await;
    let f = &w.function;
    let mediaconvert = mediaconvert_stub();
    let faces = faces_stub();
    let fns = Functions::new(&w, &mediaconvert, Some(&faces)).await;
    let mut replay: Vec<(&str, SqsEvent)> = Vec::new();

    // The sidecar first, then the video: a key with a space, a colon, a plus and a
    // question mark, as conference titles have.
    let name = "uploads/Metrics: right+wrong?";
    w.put(
        &format!("{name}.json"),
        json!({
            "title": "Right metrics and wrong metrics",
            "speakers": [{"name": "Ada Lovelace", "email": "ada@example.org"},
                         {"name": "Grace Hopper", "email": "grace@example.org"},
                         {"name": "No Mail"}],
            "start": 1, "end": "00:00:11", "tags": ["metrics"]
        })
        .to_string()
        .into_bytes(),
    )
    .await;
    w.put(&format!("{name}.mp4"), make_mp4(12, false)).await;

    // ingest
    let event = w.drain("ingest").await;
    assert!(event.records.len() >= 2, "sidecar and video notifications");
    let r = fns.handle("ingest", event.clone()).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    replay.push(("ingest", event));
    let video_event = ObjectCreated {
        bucket: BUCKET.into(),
        key: format!("{name}.mp4"),
        size_bytes: 0,
        etag: f
            .store
            .clone()
            .client
            .head_object()
            .bucket(BUCKET)
            .key(format!("{name}.mp4"))
            .send()
            .await
            .unwrap()
            .e_tag
            .map(|e| e.trim_matches('"').to_string()),
        version_id: None,
    };
    let id = video_id_for(IdScheme::Object, &video_event);
    let at = keys::PlanKeys::new(&id, 0);
    let rec = record(&w, &id).await;
    assert_eq!(rec.title(), "Right metrics and wrong metrics");
    let plan = rec.plan.clone().unwrap();
    assert_eq!((plan.clip.start_s, plan.clip.end_s), (1.0, 11.0));
    assert_eq!(
        plan.renditions
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["360p"],
        "no upscaling"
    );
    assert_eq!(
        rec.media.as_ref().unwrap().video.as_ref().unwrap().fps,
        25.0
    );

    // transcode: the CreateJob request. The sidecar's and the video's notifications
    // may each ask for the transcode (ingest asks again while it has not started, in
    // case an earlier delivery died before asking): still one job of each kind.
    let event = w.drain("transcode").await;
    assert!(!event.records.is_empty());
    let r = fns.handle("transcode", event.clone()).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    replay.push(("transcode", event));
    let jobs = mediaconvert.bodies();
    assert_eq!(jobs.len(), 2, "the renditions job and the GIF job");
    let job = &jobs[0];
    validate_create_job(job).unwrap();
    // The GIF: its own job, clipped to its 5 s window in the middle of the 10 s clip
    // (source 3.5 s to 8.5 s), at 10 frames a second and at most 480 px wide.
    let gif_job = &jobs[1];
    validate_create_job(gif_job).unwrap();
    assert_eq!(gif_job["userMetadata"]["job"], "gif");
    assert_eq!(
        gif_job["settings"]["inputs"][0]["inputClippings"],
        json!([{"startTimecode": "00:00:03:12", "endTimecode": "00:00:08:12"}])
    );
    let gif_output = &gif_job["settings"]["outputGroups"][0]["outputs"][0];
    assert_eq!(gif_output["containerSettings"]["container"], "GIF");
    assert_eq!(
        gif_output["videoDescription"]["codecSettings"]["gifSettings"]["framerateNumerator"],
        10
    );
    assert!(gif_output["videoDescription"]["width"].as_i64().unwrap() <= 480);
    assert!(gif_job["settings"]["inputs"][0]["audioSelectors"].is_null());
    let input = &job["settings"]["inputs"][0];
    assert_eq!(
        input["inputClippings"],
        json!([{"startTimecode": "00:00:01:00", "endTimecode": "00:00:11:00"}])
    );
    assert_eq!(input["timecodeSource"], "ZEROBASED");
    let images = input["imageInserter"]["insertableImages"]
        .as_array()
        .unwrap();
    assert_eq!(images.len(), 2);
    // Fade from black: opaque on the in point's frame (40 ms at 25 fps), clear 3 s
    // later. Fade to black: from 3 s before the out point, opaque at it.
    assert_eq!(
        (
            images[0]["startTime"].as_str(),
            images[0]["fadeIn"].as_i64(),
            images[0]["duration"].as_i64(),
            images[0]["fadeOut"].as_i64()
        ),
        (Some("00:00:01:00"), Some(0), Some(40), Some(2960))
    );
    assert_eq!(
        (
            images[1]["startTime"].as_str(),
            images[1]["fadeIn"].as_i64(),
            images[1]["duration"].as_i64()
        ),
        (Some("00:00:08:00"), Some(3000), Some(3040))
    );
    assert!(images[0]["imageInserterInput"]
        .as_str()
        .unwrap()
        .ends_with(&format!("media/{id}/fade-black.png")));
    assert_eq!(job["userMetadata"]["video_id"], id.as_str());
    assert!(job["clientRequestToken"]
        .as_str()
        .unwrap()
        .starts_with(&format!("vidpipe-{id}-0-renditions-")));
    let groups: Vec<&str> = job["settings"]["outputGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["renditions", "hls", "audio", "frame-captures"]);
    let rendition = &job["settings"]["outputGroups"][0]["outputs"][0];
    assert_eq!(
        (
            rendition["videoDescription"]["width"].as_i64(),
            rendition["videoDescription"]["height"].as_i64()
        ),
        (Some(640), Some(360))
    );
    assert_eq!(
        rendition["videoDescription"]["codecSettings"]["h264Settings"]["maxBitrate"],
        700_000
    );

    // MediaConvert completes: its outputs land, its event arrives.
    let job_id = format!(
        "job-{}",
        &job["clientRequestToken"].as_str().unwrap()
            [job["clientRequestToken"].as_str().unwrap().len() - 16..]
    );
    let complete = complete_job(&w, job, &job_id).await;
    let gif_token = gif_job["clientRequestToken"].as_str().unwrap();
    let gif_complete = complete_job(
        &w,
        gif_job,
        &format!("job-{}", &gif_token[gif_token.len() - 16..]),
    )
    .await;
    let event = sqs_event(&[gif_complete, complete]);
    let r = fns.handle("transcode", event.clone()).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    replay.push(("transcode", event));
    let rec = record(&w, &id).await;
    assert_eq!(rec.stage(Stage::Transcode), StageStatus::Done);
    assert!(rec
        .outputs
        .iter()
        .any(|o| o.kind == OutputKind::HlsMaster && o.key == at.hls_master()));
    assert!(rec.outputs.iter().any(|o| o.kind == OutputKind::Rendition
        && o.name.as_deref() == Some("360p")
        && o.width_px == Some(640)));
    // The CMAF group's renditions, which its event does not name, found as the
    // layout names their playlists: the rung and the sound.
    let variants: Vec<_> = rec
        .outputs
        .iter()
        .filter(|o| o.kind == OutputKind::HlsVariant)
        .map(|o| (o.key.clone(), o.name.clone().unwrap(), o.width_px))
        .collect();
    assert_eq!(
        variants,
        [
            (at.hls_variant("360p"), "360p".into(), Some(640)),
            (at.hls_variant("audio"), "audio".into(), None),
        ]
    );
    assert!(
        rec.outputs
            .iter()
            .any(|o| o.kind == OutputKind::Gif && o.key == at.preview_gif()),
        "the GIF from its own job, recorded before the renditions job ended"
    );

    // transcribe-start: audio.mp3 created → a Transcribe job named after the video.
    let event = w.drain("transcribe-start").await;
    // With the s3:TestEvent S3 sends each queue when its notification is set up.
    assert!(!event.records.is_empty());
    let r = fns.handle("transcribe-start", event.clone()).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    replay.push(("transcribe-start", event));
    let job = aws_sdk_transcribe::Client::new(&w.sdk)
        .get_transcription_job()
        .transcription_job_name(at.transcription_job_name())
        .send()
        .await
        .unwrap();
    let tj = job.transcription_job.unwrap();
    assert_eq!(
        tj.media.unwrap().media_file_uri.unwrap(),
        format!("s3://{BUCKET}/media/{id}/audio.mp3")
    );

    // Transcribe writes the transcript (moto does not): transcribe-store.
    let transcript = std::fs::read(format!(
        "{REPO}/tests/fixtures/transcribe-output-diarized.json"
    ))
    .unwrap();
    w.put(&at.transcript_json(), transcript).await;
    let event = w.drain("transcribe-store").await;
    let r = fns.handle("transcribe-store", event.clone()).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    replay.push(("transcribe-store", event));
    let rec = record(&w, &id).await;
    assert_eq!(rec.stage(Stage::TranscribeStore), StageStatus::Done);
    use vidpipe_domain::ports::ObjectReader;
    assert!(f
        .store
        .head(&at.transcript_file("captions.vtt"))
        .await
        .unwrap()
        .is_some());

    // rekognition: the cover requested when the renditions job's outputs were
    // recorded (the frame captures themselves notify nothing).
    let event = w.drain("rekognition").await;
    assert!(!event.records.is_empty());
    let r = fns.handle("rekognition", event.clone()).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    replay.push(("rekognition", event));
    let rec = record(&w, &id).await;
    assert_eq!(rec.cover_key.as_deref(), Some(at.cover().as_str()));
    assert!(f.store.head(&at.cover()).await.unwrap().is_some());
    assert!(
        !faces.requests.lock().unwrap().is_empty(),
        "DetectFaces was asked"
    );
    assert!(
        rec.frames[0].rejected.is_some(),
        "the black first frame is not a cover candidate"
    );
    // DetectFaces' box is kept with each frame, for the vertical cut.
    let cover = vidpipe_domain::cover::choose_cover(&rec.frames).unwrap();
    assert_eq!(
        rec.frames[cover].faces,
        [vidpipe_domain::destinations::vertical::FaceBox {
            left: 0.3,
            top: 0.2,
            width: 0.3,
            height: 0.4
        }]
    );
    assert!(
        w.drain("rekognition").await.records.is_empty(),
        "cover.jpg notifies nothing"
    );

    // transcribe-store planned a promo (the transcript's first sentence, 4.9 s into
    // the clip, is clear of the 3 s fades): the promo job.
    let event = w.drain("transcode").await;
    assert!(!event.records.is_empty(), "a promo request");
    {
        let r = fns.handle("transcode", event.clone()).await;
        assert_eq!(failures(&r), Vec::<String>::new());
        replay.push(("transcode", event));
        let jobs = mediaconvert.bodies();
        assert_eq!(jobs.len(), 3);
        let promo = &jobs[2];
        validate_create_job(promo).unwrap();
        assert_eq!(promo["userMetadata"]["job"], "promo");
        let token = promo["clientRequestToken"].as_str().unwrap();
        let complete =
            complete_job(&w, promo, &format!("job-{}", &token[token.len() - 16..])).await;
        let event = sqs_event(&[complete]);
        let r = fns.handle("transcode", event.clone()).await;
        assert_eq!(failures(&r), Vec::<String>::new());
        replay.push(("transcode", event));
    }

    // publish: of all the "part recorded" messages, exactly one publishes.
    let event = w.drain("publish").await;
    assert!(event.records.len() >= 3);
    let r = fns.handle("publish", event.clone()).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    replay.push(("publish", event));
    let rec = record(&w, &id).await;
    assert_eq!(rec.status, VideoStatus::Published, "{:?}", rec.stages);
    assert!(!rec.links.is_empty());
    let emails = w.moto.sent_emails();
    let mut to: Vec<&str> = emails.iter().map(|e| e.0.as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        ["ada@example.org", "grace@example.org"],
        "one email per speaker with an address"
    );
    assert!(emails[0].2.contains("Right metrics and wrong metrics"));

    // The events/ samples of each function, naming this video: repeats of what it has
    // been through, so they too must change nothing.
    for (function, file) in [
        ("transcode", "sqs-transcode-requested.json"),
        ("transcode", "sqs-promo-requested.json"),
        ("transcode", "sqs-mediaconvert-error.json"),
        ("transcribe-start", "sqs-s3-audio-created.json"),
        ("transcribe-store", "sqs-s3-transcript-created.json"),
        ("rekognition", "sqs-cover-requested.json"),
        ("publish", "sqs-part-recorded.json"),
    ] {
        let text = std::fs::read_to_string(format!("{REPO}/events/{file}")).unwrap();
        let event: SqsEvent =
            serde_json::from_str(&text.replace("3f2a9c0d4e5b6a71", id.as_str())).unwrap();
        replay.push((function, event));
    }
    // Replaying every event changes nothing more.
    let version = rec.version;
    for (function, event) in replay {
        let r = fns.handle(function, event).await;
        assert_eq!(failures(&r), Vec::<String>::new(), "{function}");
    }
    assert_eq!(
        record(&w, &id).await.version,
        version,
        "the record is unchanged"
    );
    assert_eq!(w.moto.sent_emails().len(), 2, "no second email");
    assert_eq!(
        mediaconvert.bodies().len(),
        3,
        "renditions, GIF and promo; no second job of any kind"
    );
    for q in QUEUES {
        assert!(w.drain(q).await.records.is_empty(), "nothing new on {q}");
    }

    // Every request each function made, evaluated against that function's own
    // policy in template.yaml, as IAM would (moto does not).
    let checked = fns.check_policies("template.yaml");
    let report = String::from_utf8_lossy(&checked.stdout).to_string();
    assert!(
        checked.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(report.contains(", 0 refused"), "{report}");
    println!("{report}");
    // The same calls against a template whose transcode function may no longer send
    // the cover request: refused, and named.
    let template = std::fs::read_to_string(format!("{REPO}/template.yaml")).unwrap();
    let granted =
        "              - !GetAtt PublishQueue.Arn\n              - !GetAtt RekognitionQueue.Arn\n";
    assert_eq!(
        template.matches(granted).count(),
        1,
        "the transcode function's grant"
    );
    let dir = tempfile::tempdir().unwrap();
    let narrowed = dir.path().join("template.yaml");
    let without = template.replace(granted, "              - !GetAtt PublishQueue.Arn\n");
    std::fs::write(&narrowed, without).unwrap();
    let checked = fns.check_policies(narrowed.to_str().unwrap());
    let report = String::from_utf8_lossy(&checked.stdout).to_string();
    assert!(!checked.status.success(), "{report}");
    assert!(
        report.contains("transcode: sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:vidpipe-rekognition is not allowed"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_fails_its_own_video_and_the_batch_goes_on() {
    let w = World::new(&[("VIDPIPE_MAX_UPLOAD_BYTES", "2000000")]).await;
    let f = &w.function;
    let bus = f.bus.clone();
    let config = &f.config.pipeline;
    let good = make_mp4(3, true);
    assert!(good.len() < 2_000_000);
    let mut truncated = make_mp4(3, true);
    truncated.truncate(truncated.len() / 2);
    let uploads: Vec<(&str, Vec<u8>, &str)> = vec![
        ("uploads/../../etc/passwd.mp4", good.clone(), "'..'"),
        ("uploads/empty.mp4", Vec::new(), "empty (0 bytes)"),
        (
            "uploads/notes.txt",
            b"hello".to_vec(),
            "not a video or audio file",
        ),
        ("uploads/random.mp4", vec![7u8; 5000], "not an MP4/MOV file"),
        ("uploads/cut short.mp4", truncated, "truncated"),
        (
            "uploads/huge.mp4",
            make_mp4(30, true),
            "over the upload limit",
        ),
        ("uploads/café — 演讲.mp4", good.clone(), ""),
    ];
    for (key, bytes, _) in &uploads {
        w.put(key, bytes.clone()).await;
    }
    let mut event = w.drain("ingest").await;
    // A malformed body in the same batch.
    let broken = sqs_event(&["{\"Records\": [ oops".to_string()]);
    event.records.extend(broken.records);
    let prober = S3Prober { store: &f.store };
    let ingest = f.adapters().with_prober(&prober);
    let r = handlers::handle(Stage::Ingest, &ingest, &bus, config, f.around(), event).await;
    assert_eq!(
        failures(&r),
        ["m-0"],
        "only the unreadable record goes back (to the dead-letter queue)"
    );
    for (key, _, reason) in &uploads {
        let head = f
            .store
            .client
            .head_object()
            .bucket(BUCKET)
            .key(*key)
            .send()
            .await;
        let etag = head
            .ok()
            .and_then(|h| h.e_tag)
            .map(|e| e.trim_matches('"').to_string());
        let id = video_id_for(
            IdScheme::Object,
            &ObjectCreated {
                bucket: BUCKET.into(),
                key: key.to_string(),
                size_bytes: 0,
                etag,
                version_id: None,
            },
        );
        let rec = record(&w, &id).await;
        if reason.is_empty() {
            assert_eq!(
                rec.status,
                VideoStatus::Processing,
                "{key}: the good upload goes on"
            );
            assert_eq!(rec.source_key, *key, "unicode keys are kept as they are");
            continue;
        }
        let failure = rec
            .failure
            .unwrap_or_else(|| panic!("{key}: no failure recorded"));
        assert_eq!(failure.stage, Stage::Ingest);
        assert!(failure.reason.contains(reason), "{key}: {}", failure.reason);
    }
    // Nothing lost: every upload is still in the bucket.
    use vidpipe_domain::ports::ObjectReader;
    assert_eq!(f.store.list("uploads/").await.unwrap().len(), uploads.len());

    // A MediaConvert ERROR fails the video with the job's reason.
    let (key, _, _) = &uploads[6];
    let etag = f
        .store
        .client
        .head_object()
        .bucket(BUCKET)
        .key(*key)
        .send()
        .await
        .unwrap()
        .e_tag
        .map(|e| e.trim_matches('"').to_string());
    let id = video_id_for(
        IdScheme::Object,
        &ObjectCreated {
            bucket: BUCKET.into(),
            key: key.to_string(),
            size_bytes: 0,
            etag,
            version_id: None,
        },
    );
    let mut error: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{REPO}/events/eventbridge-mediaconvert-error.json"))
            .unwrap(),
    )
    .unwrap();
    error["detail"]["userMetadata"]["video_id"] = json!(id.as_str());
    // The job state change needs no transcoder: none is wired.
    let event = sqs_event(&[error.to_string()]);
    let r = handlers::handle(
        Stage::Transcode,
        &f.adapters(),
        &bus,
        config,
        f.around(),
        event,
    )
    .await;
    assert_eq!(failures(&r), Vec::<String>::new());
    let rec = record(&w, &id).await;
    assert_eq!(rec.status, VideoStatus::Failed);
    let failure = rec.failure.unwrap();
    assert_eq!(failure.stage, Stage::Transcode);
    assert!(
        failure.reason.contains("1010") && failure.reason.contains("Unable to open input file"),
        "{}",
        failure.reason
    );
}

#[test]
fn every_file_in_events_parses_and_the_real_key_decodes() {
    let dir = format!("{REPO}/events");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        seen += 1;
        if name.starts_with("scheduler-") {
            // The scheduled functions' inputs: the time-lapse's in tests/timelapse.rs;
            // the reconciler reads none of its event.
            continue;
        }
        if name.starts_with("sqs-") {
            let event: aws_lambda_events::event::sqs::SqsEvent =
                serde_json::from_value(value).unwrap();
            assert!(!event.records.is_empty(), "{name}");
            for m in event.records {
                let body = m.body.unwrap();
                let read = read_body("m", &body);
                if name == "sqs-malformed-body.json" {
                    assert!(read.is_err(), "{name}: {body}");
                } else {
                    assert!(read.is_ok(), "{name}: {read:?}");
                }
            }
        } else {
            let read = read_body("m", &text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                matches!(read, Body::Objects(_) | Body::JobState(_)),
                "{name}"
            );
        }
    }
    assert!(seen >= 10, "{seen} event files");
    let real = std::fs::read_to_string(format!("{dir}/s3-put-talk.json")).unwrap();
    match read_body("m", &real).unwrap() {
        Body::Objects(o) => {
            assert_eq!(
                o[0].key,
                "Right metrics and wrong metrics: Is there such a thing4?.mp4"
            );
            assert_eq!(o[0].size_bytes, 296886272);
        }
        other => panic!("{other:?}"),
    }
}

/// An events/ file as the SQS event it is, with each S3 record's ETag set to the
/// object's own (as S3 sends it): the files were written before these objects were.
async fn event_file_with_real_etags(w: &World, name: &str) -> SqsEvent {
    let text = std::fs::read_to_string(format!("{REPO}/events/{name}")).unwrap();
    let mut event: SqsEvent = serde_json::from_str(&text).unwrap();
    for m in &mut event.records {
        let Ok(mut body) = serde_json::from_str::<Value>(m.body.as_deref().unwrap_or("")) else {
            continue;
        };
        let Some(records) = body["Records"].as_array_mut() else {
            continue;
        };
        for r in records {
            let raw = r["s3"]["object"]["key"].as_str().unwrap().to_string();
            let key = vidpipe_aws::events::decode_s3_key(&raw).unwrap();
            let head = w
                .function
                .store
                .client
                .head_object()
                .bucket(BUCKET)
                .key(&key)
                .send()
                .await;
            if let Some(etag) = head.ok().and_then(|h| h.e_tag) {
                r["s3"]["object"]["eTag"] = json!(etag.trim_matches('"'));
            }
        }
        m.body = Some(body.to_string());
    }
    event
}

/// The video ids an SQS event's S3 records name (upload identity: bucket, key, ETag).
fn ids_in(event: &SqsEvent) -> Vec<(String, VideoId)> {
    let mut ids = Vec::new();
    for m in &event.records {
        if let Ok(Body::Objects(objects)) = read_body("m", m.body.as_deref().unwrap_or("")) {
            for o in objects {
                ids.push((o.key.clone(), video_id_for(IdScheme::Object, &o)));
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_takes_its_events_files_and_a_replay_changes_nothing() {
    let w = World::new(&[]).await;
    let mediaconvert = mediaconvert_stub();
    let fns = Functions::new(&w, &mediaconvert, None).await;
    let talk = "uploads/Right metrics and wrong metrics: Is there such a thing4?";
    w.put(&format!("{talk}.mp4"), make_mp4(3, true)).await;
    w.put("uploads/café — 演讲.mp4", make_mp4(3, true)).await;
    w.put("uploads/empty.mp4", Vec::new()).await;
    w.put("uploads/notes.txt", b"hello".to_vec()).await;
    // Only the events/ files drive ingest here.
    w.drain("ingest").await;

    let files = [
        "sqs-s3-test-event.json",
        "sqs-s3-put-talk.json",
        "sqs-s3-put-bad-keys.json",
        "sqs-malformed-body.json",
    ];
    let mut events = Vec::new();
    for name in files {
        events.push((name, event_file_with_real_etags(&w, name).await));
    }
    let mut versions = Vec::new();
    for round in 0..2 {
        for (name, event) in &events {
            let r = fns.handle("ingest", event.clone()).await;
            let want: Vec<String> = if *name == "sqs-malformed-body.json" {
                // Unreadable: reported, so that they reach the dead-letter queue.
                event
                    .records
                    .iter()
                    .map(|m| m.message_id.clone().unwrap())
                    .collect()
            } else {
                Vec::new()
            };
            assert_eq!(failures(&r), want, "{name}, round {round}");
        }
        let mut seen = Vec::new();
        for (_, event) in &events {
            for (key, id) in ids_in(event) {
                seen.push((key, record(&w, &id).await));
            }
        }
        versions.push(seen.iter().map(|(_, r)| r.version).collect::<Vec<_>>());
        if round == 1 {
            break;
        }
        for (key, rec) in &seen {
            let want = match key.as_str() {
                "uploads/../../etc/passwd.mp4" => Some("'..'"),
                "/uploads/absolute.mp4" => Some("starts with '/'"),
                "uploads/empty.mp4" => Some("empty (0 bytes)"),
                "uploads/notes.txt" => Some("not a video or audio file"),
                _ => None,
            };
            match want {
                Some(reason) => {
                    let failure = rec.failure.as_ref().unwrap_or_else(|| panic!("{key}"));
                    assert_eq!(failure.stage, Stage::Ingest, "{key}");
                    assert!(failure.reason.contains(reason), "{key}: {}", failure.reason);
                }
                None => {
                    assert_eq!(rec.status, VideoStatus::Processing, "{key}");
                    assert_eq!(&rec.source_key, key);
                }
            }
        }
        assert_eq!(seen.len(), 6, "the talk and five keys in the bad-keys file");
    }
    assert_eq!(versions[0], versions[1], "the replay changed a record");
    // Ingest asks for the transcode again while it has not started (an earlier
    // delivery may have died before asking); the requests make one job of each kind
    // per video: renditions and GIF for the talk and the unicode key.
    let requests = w.drain("transcode").await;
    assert!(requests.records.len() >= 2);
    let r = fns.handle("transcode", requests).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    let mut tokens: Vec<String> = mediaconvert
        .bodies()
        .iter()
        .map(|b| b["clientRequestToken"].as_str().unwrap().to_string())
        .collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(mediaconvert.bodies().len(), 4, "{tokens:?}");
    assert_eq!(tokens.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_promo_is_a_second_job_with_one_clipping_per_segment_and_fades_at_the_joins() {
    use vidpipe_domain::media::{AudioStreamInfo, MediaInfo, VideoStreamInfo};
    use vidpipe_domain::plan::{make_plan, ClipRequest, PlanConfig};
    use vidpipe_domain::ports::{PromoJob, Transcoder};
    use vidpipe_domain::understanding::PromoSegment;

    let w = World::new(&[]).await;
    let mediaconvert = mediaconvert_stub();
    let transcoder = stub_transcoder(&mediaconvert, &w.function.store).await;
    let media = MediaInfo {
        format: "mov,mp4,m4a,3gp".into(),
        duration_s: 60.0,
        size_bytes: 1 << 20,
        video: Some(VideoStreamInfo {
            width_px: 1920,
            height_px: 1080,
            fps: 25.0,
            rotation_deg: 0,
            sample_aspect: (1, 1),
            codec: "h264".into(),
        }),
        audio: Some(AudioStreamInfo {
            codec: "aac".into(),
            channels: 2,
            sample_rate_hz: 48_000,
        }),
    };
    let plan = make_plan(
        &media,
        ClipRequest {
            start_s: Some(10.0),
            end_s: Some(50.0),
        },
        &PlanConfig::default(),
    )
    .unwrap();
    let id = VideoId::parse("0123456789abcdef").unwrap();
    let segment = |start_s: f64, end_s: f64| PromoSegment {
        start_s,
        end_s,
        text: String::new(),
    };
    let job = PromoJob {
        video_id: id.clone(),
        generation: 0,
        source_key: "uploads/talk.mp4".into(),
        plan,
        // Seconds from the clip's start: source 15–22 s and 30–38 s.
        segments: vec![segment(5.0, 12.0), segment(20.0, 28.0)],
        fade_s: 0.5,
        // With the vertical cut, so that its crop is checked against the model too.
        vertical: Some(vidpipe_domain::destinations::vertical::vertical_crop(
            1920,
            1080,
            &[],
        )),
    };
    transcoder.submit_promo(&job).await.unwrap();
    let bodies = mediaconvert.bodies();
    assert_eq!(bodies.len(), 1);
    let promo = &bodies[0];
    validate_create_job(promo).unwrap();
    assert_eq!(promo["userMetadata"]["job"], "promo");
    let input = &promo["settings"]["inputs"][0];
    assert_eq!(
        input["inputClippings"],
        json!([
            {"startTimecode": "00:00:15:00", "endTimecode": "00:00:22:00"},
            {"startTimecode": "00:00:30:00", "endTimecode": "00:00:38:00"}
        ])
    );
    let fades: Vec<(i64, &str, i64, i64)> = input["imageInserter"]["insertableImages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["layer"].as_i64().unwrap(),
                i["startTime"].as_str().unwrap(),
                i["fadeIn"].as_i64().unwrap(),
                i["fadeOut"].as_i64().unwrap(),
            )
        })
        .collect();
    // From black at each segment's start (one frame opaque, then 460 ms to clear), to
    // black over each segment's last 500 ms: 21.5 s is frame 537.5 at 25 fps, and the
    // timecode takes frame 537, so black is reached by the out point, never after it.
    assert_eq!(
        fades,
        [
            (1, "00:00:15:00", 0, 460),
            (2, "00:00:21:12", 500, 0),
            (3, "00:00:30:00", 0, 460),
            (4, "00:00:37:12", 500, 0)
        ]
    );
    let group = &promo["settings"]["outputGroups"][0];
    assert_eq!(
        group["outputGroupSettings"]["fileGroupSettings"]["destination"],
        format!("s3://{BUCKET}/media/{id}/promo")
    );
    let output = &group["outputs"][0];
    assert_eq!(
        (
            output["videoDescription"]["width"].as_i64(),
            output["videoDescription"]["height"].as_i64()
        ),
        (Some(1920), Some(1080)),
        "the largest rendition's size"
    );
    // The same promo again: the same request token (MediaConvert answers the same job).
    transcoder.submit_promo(&job).await.unwrap();
    let bodies = mediaconvert.bodies();
    assert_eq!(
        bodies[0]["clientRequestToken"],
        bodies[1]["clientRequestToken"]
    );
    // Its COMPLETE event reads as the promo clip.
    let token = promo["clientRequestToken"].as_str().unwrap();
    let complete = complete_job(&w, promo, &format!("job-{}", &token[token.len() - 16..])).await;
    let value: Value = serde_json::from_str(&complete).unwrap();
    let change = vidpipe_aws::mediaconvert::job_state_change(&w.function.store, &value)
        .await
        .unwrap();
    assert_eq!(change.job, vidpipe_domain::events::JobKind::Promo);
    match change.outcome {
        vidpipe_domain::events::JobOutcome::Complete { outputs } => {
            let at = keys::PlanKeys::new(&id, 0);
            let found: Vec<_> = outputs
                .iter()
                .map(|o| (o.kind, o.key.clone(), o.name.clone()))
                .collect();
            assert_eq!(
                found,
                [
                    (
                        OutputKind::Promo,
                        at.promo_vertical(),
                        Some("vertical".into())
                    ),
                    (OutputKind::Promo, at.promo(), None),
                ]
            );
        }
        other => panic!("{other:?}"),
    }
}

//! The six functions as their binaries wire them, for tests that drive the chain on
//! moto, and a MediaConvert job's completion as MediaConvert would write it.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::{json, Value};
use vidpipe_aws::bus::SqsBus;
use vidpipe_aws::mediaconvert::MediaConvertTranscoder;
use vidpipe_aws::notify::LinksPublisher;
use vidpipe_aws::probe::S3Prober;
use vidpipe_aws::rekognition::RekognitionAnalyzer;
use vidpipe_aws::requeue::Requeue;
use vidpipe_aws::transcribe::TranscribeTranscriber;
use vidpipe_aws::{handlers, CloudAdapters};
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{Stage, VideoRecord};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::*;

pub fn failures(r: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

pub async fn record(w: &World, id: &VideoId) -> VideoRecord {
    w.function.records.get(id).await.unwrap().expect("a record")
}

/// Writes what a MediaConvert job names as its outputs, and returns its COMPLETE
/// event (as EventBridge delivers it).
pub async fn complete_job(w: &World, job: &Value, job_id: &str) -> String {
    let settings = &job["settings"];
    let meta = &job["userMetadata"];
    let mut groups = Vec::new();
    for group in settings["outputGroups"].as_array().unwrap() {
        let gs = &group["outputGroupSettings"];
        let (destination, kind) = match gs["type"].as_str().unwrap() {
            "FILE_GROUP_SETTINGS" => (
                gs["fileGroupSettings"]["destination"].as_str().unwrap(),
                "FILE_GROUP",
            ),
            "CMAF_GROUP_SETTINGS" => (
                gs["cmafGroupSettings"]["destination"].as_str().unwrap(),
                "CMAF_GROUP",
            ),
            other => panic!("unexpected group {other}"),
        };
        let mut details = Vec::new();
        for output in group["outputs"].as_array().unwrap() {
            let modifier = output["nameModifier"].as_str().unwrap_or("");
            let video = &output["videoDescription"];
            let key_of = |uri: &str| {
                uri.strip_prefix(&format!("s3://{BUCKET}/"))
                    .unwrap()
                    .to_string()
            };
            if kind == "CMAF_GROUP" {
                // A single CMAF file and its playlist; the event names neither
                // (the User Guide's sample COMPLETE for a CMAF group).
                let base = format!("{destination}{modifier}");
                let ext = if video.is_null() { "cmfa" } else { "cmfv" };
                w.put(&key_of(&format!("{base}.{ext}")), vec![0u8; 2048])
                    .await;
                w.put(&key_of(&format!("{base}.m3u8")), b"#EXTM3U\n".to_vec())
                    .await;
                let mut d = json!({"durationInMs": 4000});
                if let Some(width) = video["width"].as_u64() {
                    d["videoDetails"] = json!({"widthInPx": width, "heightInPx": video["height"].as_u64().unwrap()});
                }
                details.push(d);
                continue;
            }
            let (ext, bytes): (&str, Vec<u8>) =
                if video["codecSettings"]["codec"] == "FRAME_CAPTURE" {
                    ("jpg", Vec::new())
                } else {
                    (output["extension"].as_str().unwrap(), vec![0u8; 2048])
                };
            let base = format!("{destination}{modifier}");
            if ext == "jpg" {
                let count = video["codecSettings"]["frameCaptureSettings"]["maxCaptures"]
                    .as_u64()
                    .unwrap();
                let (width, height) = (
                    video["width"].as_u64().unwrap() as u32,
                    video["height"].as_u64().unwrap() as u32,
                );
                for i in 0..count {
                    // Frame 0 black (the fade), the others textured, brighter later.
                    let img = image::RgbImage::from_fn(width, height, |x, y| {
                        let v = if i == 0 {
                            0
                        } else {
                            ((x * 7 + y * 13 + i as u32 * 40) % 200) as u8 + 30
                        };
                        image::Rgb([v, v / 2, 255 - v])
                    });
                    let mut jpeg = Vec::new();
                    img.write_to(
                        &mut std::io::Cursor::new(&mut jpeg),
                        image::ImageFormat::Jpeg,
                    )
                    .unwrap();
                    w.put(&key_of(&format!("{base}.{i:07}.jpg")), jpeg).await;
                }
                details.push(json!({"outputFilePaths": [format!("{base}.{:07}.jpg", count - 1)], "durationInMs": 4000,
                    "videoDetails": {"widthInPx": width, "heightInPx": height}}));
                continue;
            }
            let uri = format!("{base}.{ext}");
            w.put(&key_of(&uri), bytes).await;
            let mut d = json!({"outputFilePaths": [uri], "durationInMs": 4000});
            if let Some(width) = video["width"].as_u64() {
                d["videoDetails"] =
                    json!({"widthInPx": width, "heightInPx": video["height"].as_u64().unwrap()});
            }
            details.push(d);
        }
        let mut g = json!({"outputDetails": details, "type": kind});
        if kind == "CMAF_GROUP" {
            let master = format!("{destination}.m3u8");
            w.put(
                master.strip_prefix(&format!("s3://{BUCKET}/")).unwrap(),
                b"#EXTM3U\n".to_vec(),
            )
            .await;
            g["playlistFilePaths"] = json!([master]);
        }
        groups.push(g);
    }
    json!({
        "version": "0", "id": "e-1", "detail-type": "MediaConvert Job State Change", "source": "aws.mediaconvert",
        "account": "123456789012", "time": "2026-11-21T10:05:00Z", "region": "us-east-1", "resources": [],
        "detail": {"jobId": job_id, "status": "COMPLETE", "userMetadata": meta, "outputGroupDetails": groups}
    })
    .to_string()
}

/// The six functions as their binaries wire them, on a world: MediaConvert on its
/// stub, DetectFaces on its stub where one is given, everything else on moto. Every
/// request a function's handler makes is kept, with the function's name, for
/// [`Functions::check_policies`].
pub struct Functions<'a> {
    f: &'a CloudAdapters,
    world: &'a World,
    /// The stubs' requests, with the service each stands in for.
    stubs: Vec<(&'static str, Arc<Mutex<Vec<StubRequest>>>)>,
    calls: Mutex<Vec<Value>>,
    /// How far moto's recording has been read, and the bucket's keys as its
    /// requests wrote them so far.
    recorded: Mutex<(usize, HashSet<String>)>,
    /// Each function's own queue, where its throttled records go back.
    queue_urls: std::collections::HashMap<&'static str, String>,
    bus: SqsBus,
    transcoder: MediaConvertTranscoder<'a>,
    transcriber: TranscribeTranscriber,
    analyzer: RekognitionAnalyzer<'a>,
    publisher: LinksPublisher<'a>,
    /// When the handlers stop uploading, as the Lambda deadline would make them.
    pub stop_at: Mutex<Option<std::time::Instant>>,
}

impl<'a> Functions<'a> {
    pub async fn new(w: &'a World, mediaconvert: &Stub, faces: Option<&Stub>) -> Functions<'a> {
        let f = &w.function;
        let faces_sdk = match faces {
            Some(stub) => sdk_config(&stub.endpoint).await,
            None => w.sdk.clone(),
        };
        let mut stubs = vec![("mediaconvert", mediaconvert.requests.clone())];
        stubs.extend(faces.map(|stub| ("rekognition", stub.requests.clone())));
        Functions {
            f,
            world: w,
            stubs,
            calls: Mutex::new(Vec::new()),
            recorded: Mutex::default(),
            queue_urls: w.queue_urls.clone(),
            bus: f.bus.clone(),
            transcoder: stub_transcoder(mediaconvert, &f.store).await,
            transcriber: TranscribeTranscriber {
                client: aws_sdk_transcribe::Client::new(&w.sdk),
                bucket: BUCKET.into(),
                language_code: "en-US".into(),
            },
            analyzer: RekognitionAnalyzer {
                store: &f.store,
                labels: aws_sdk_rekognition::Client::new(&w.sdk),
                faces: aws_sdk_rekognition::Client::new(&faces_sdk),
            },
            publisher: LinksPublisher {
                store: &f.store,
                expiry: f.config.link_expiry,
                base_url: f.config.media_base_url.clone(),
            },
            stop_at: Mutex::new(None),
        }
    }

    /// Runs `function`'s handler on `event`, as the Lambda service would, with the
    /// port its binary wires; keeps the requests it made.
    pub async fn handle(&self, function: &str, event: SqsEvent) -> SqsBatchResponse {
        // What the test and moto's setup did since the last handler: only the
        // objects they wrote matter (see `take_recorded`).
        self.take_recorded(None);
        let marks: Vec<usize> = self
            .stubs
            .iter()
            .map(|(_, r)| r.lock().unwrap().len())
            .collect();
        let response = self.run_handler(function, event).await;
        let recorded = self.take_recorded(Some(function));
        let mut calls = self.calls.lock().unwrap();
        calls.extend(recorded);
        for ((service, requests), mark) in self.stubs.iter().zip(marks) {
            for r in &requests.lock().unwrap()[mark..] {
                calls.push(json!({
                    "function": function, "service": service, "method": r.method,
                    "url": r.path, "headers": r.headers,
                    "body": String::from_utf8_lossy(&r.body),
                }));
            }
        }
        response
    }

    /// Runs scripts/check-calls.py on every request the functions made so far,
    /// against each function's policy in `template` (a path from the repository's
    /// root): its output.
    pub fn check_policies(&self, template: &str) -> std::process::Output {
        let dir = tempfile::tempdir().unwrap();
        let calls: Vec<String> = self
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let calls_path = dir.path().join("calls.jsonl");
        std::fs::write(&calls_path, calls.join("\n")).unwrap();
        let (account, region) = ("123456789012", "us-east-1");
        let mut resources = serde_json::Map::new();
        for (queue, id) in [
            ("ingest", "IngestQueue"),
            ("transcode", "TranscodeQueue"),
            ("transcribe-start", "TranscribeStartQueue"),
            ("transcribe-store", "TranscribeStoreQueue"),
            ("rekognition", "RekognitionQueue"),
            ("publish", "PublishQueue"),
        ] {
            let arn = format!("arn:aws:sqs:{region}:{account}:vidpipe-{queue}");
            resources.insert(id.into(), json!(arn));
        }
        let env = &self.world.env;
        resources.insert(
            "VideoTable".into(),
            json!(format!("arn:aws:dynamodb:{region}:{account}:table/{TABLE}")),
        );
        resources.insert("NoticeTopic".into(), json!(env["VIDPIPE_TOPIC_ARN"]));
        resources.insert(
            "MediaConvertRole".into(),
            json!(env["VIDPIPE_MEDIACONVERT_ROLE_ARN"]),
        );
        let world = json!({
            "parameters": {
                "NamePrefix": "vidpipe", "AWS::AccountId": account, "AWS::Region": region,
                "AWS::Partition": "aws",
                "GoogleKeySecretArn": format!("arn:aws:secretsmanager:{region}:{account}:secret:google-key"),
                "CatalogBucket": "catalog", "CatalogKey": "catalog.xlsx",
                "YouTubeSecretArn": format!("arn:aws:secretsmanager:{region}:{account}:secret:vidpipe-youtube"),
                "VimeoSecretArn": format!("arn:aws:secretsmanager:{region}:{account}:secret:vidpipe-vimeo"),
                "FacebookSecretArn": format!("arn:aws:secretsmanager:{region}:{account}:secret:vidpipe-facebook"),
            },
            "resources": resources,
            "renames": {format!("vidpipe-media-{account}-{region}"): BUCKET},
        });
        let world_path = dir.path().join("world.json");
        std::fs::write(&world_path, world.to_string()).unwrap();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        std::process::Command::new("python3")
            .arg(format!("{root}/scripts/check-calls.py"))
            .arg(template)
            .args([&world_path, &calls_path])
            .current_dir(root)
            .output()
            .unwrap()
    }

    /// The requests moto recorded since the last call, each tagged with `function`;
    /// none when `function` is `None` (the test's own requests). Every object written
    /// is noted, so that a GET or HEAD of a key no request had written yet is marked
    /// `missing_key` (S3's rule for missing keys: see scripts/check-calls.py).
    fn take_recorded(&self, function: Option<&str>) -> Vec<Value> {
        let (offset, present) = &mut *self.recorded.lock().unwrap();
        let text = std::fs::read(&self.world.moto.recording).unwrap();
        let new = String::from_utf8_lossy(&text[*offset..]).into_owned();
        *offset = text.len();
        let mut calls = Vec::new();
        for line in new.lines() {
            let mut call: Value = serde_json::from_str(line).unwrap();
            if let Some((method, key)) = object_request(&call) {
                match method.as_str() {
                    "PUT" | "POST" => {
                        present.insert(key);
                    }
                    "GET" | "HEAD" if !present.contains(&key) => {
                        call["missing_key"] = json!(true);
                    }
                    _ => {}
                }
            }
            if let Some(function) = function {
                call["function"] = json!(function);
                calls.push(call);
            }
        }
        calls
    }

    async fn run_handler(&self, function: &str, event: SqsEvent) -> SqsBatchResponse {
        let f = self.f;
        let config = &f.config.pipeline;
        let base = f.adapters();
        let bus = &self.bus;
        // The function's own queue, as the template gives each function.
        let around = handlers::Around {
            requeue: self.queue_urls.get(function).map(|queue_url| Requeue {
                sqs: &self.bus.client,
                queue_url,
                base_delay_s: f.config.throttle_delay_s,
            }),
            stop_at: *self.stop_at.lock().unwrap(),
            ..f.around()
        };
        match function {
            "ingest" => {
                let prober = S3Prober { store: &f.store };
                handlers::handle(
                    Stage::Ingest,
                    &base.with_prober(&prober),
                    bus,
                    config,
                    around,
                    event,
                )
                .await
            }
            "transcode" => {
                let a = base.with_transcoder(&self.transcoder);
                handlers::handle(Stage::Transcode, &a, bus, config, around, event).await
            }
            "transcribe-start" => {
                let a = base.with_transcriber(Some(&self.transcriber));
                handlers::handle(Stage::TranscribeStart, &a, bus, config, around, event).await
            }
            "transcribe-store" => {
                handlers::handle(Stage::TranscribeStore, &base, bus, config, around, event).await
            }
            "rekognition" => {
                let a = base.with_analyzer(&self.analyzer);
                handlers::handle(Stage::Cover, &a, bus, config, around, event).await
            }
            "publish" => {
                let a = base.with_publisher(&self.publisher);
                handlers::handle(Stage::Publish, &a, bus, config, around, event).await
            }
            other => panic!("no function {other}"),
        }
    }
}

/// The method and object key of a request moto recorded for an object of the bucket
/// (path-style: `/<bucket>/<key>`), if it is one.
fn object_request(call: &Value) -> Option<(String, String)> {
    let auth = call["headers"]["Authorization"].as_str()?;
    if !auth.contains("/s3/aws4_request") {
        return None;
    }
    let url = call["url"].as_str()?;
    let path = match url.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => url,
    };
    let path = path.split('?').next()?;
    let key = path.strip_prefix(&format!("/{BUCKET}/"))?;
    let key = percent_encoding::percent_decode_str(key)
        .decode_utf8()
        .ok()?;
    Some((call["method"].as_str()?.to_string(), key.into_owned()))
}

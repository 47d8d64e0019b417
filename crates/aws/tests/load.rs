//! Fifty uploads at once through the whole chain on moto, with MediaConvert and
//! Rekognition's DetectFaces refusing bursts of requests for their rate: every video
//! is published once, none fails, and no job, record or notice is made twice.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use vidpipe_domain::keys::PlanKeys;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::VideoStatus;
use vidpipe_domain::stages::ProcessingVideos;

const UPLOADS: usize = 50;

/// Refuses 3 requests of every 7 (the SDK's own 3 tries of one call can all meet a
/// refusal, and then the record goes back on its queue): `refusal`, else `answer`.
fn throttling(
    refusal: Value,
    status: u16,
    answer: impl Fn(&StubRequest) -> (u16, String) + Send + Sync + 'static,
) -> Stub {
    let n = AtomicUsize::new(0);
    Stub::start(move |r| {
        if r.method != "DELETE" && n.fetch_add(1, Ordering::SeqCst) % 7 < 3 {
            return (status, refusal.to_string());
        }
        answer(r)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_uploads_at_once_under_throttling_are_each_published_once() {
    let w = World::new(&[("VIDPIPE_THROTTLE_DELAY_S", "0")]).await;
    let created: Arc<Mutex<Vec<Value>>> = Arc::default();
    let jobs = created.clone();
    let mediaconvert = throttling(
        json!({"__type": "TooManyRequestsException", "message": "Too many requests"}),
        429,
        move |r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            let token = body["clientRequestToken"].as_str().unwrap_or("none");
            let id = format!("job-{}", &token[token.len().saturating_sub(16)..]);
            jobs.lock().unwrap().push(body);
            (
                201,
                json!({"job": {"id": id, "status": "SUBMITTED"}}).to_string(),
            )
        },
    );
    let faces = throttling(
        json!({"__type": "ThrottlingException", "Message": "Rate exceeded"}),
        400,
        |_| (200, json!({"FaceDetails": []}).to_string()),
    );
    let fns = Functions::new(&w, &mediaconvert, Some(&faces)).await;
    let video = make_mp4(6, false);
    for i in 0..UPLOADS {
        w.put(&format!("uploads/talk-{i:02}.mp4"), video.clone())
            .await;
    }
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/transcribe-output-diarized.json"
    );
    let transcript = std::fs::read(fixture).unwrap();
    let transcribe = aws_sdk_transcribe::Client::new(&w.sdk);

    let (mut completed, mut transcribed) = (0, HashSet::new());
    for round in 0.. {
        assert!(round < 400, "the chain did not settle");
        let mut moved = false;
        for q in QUEUES {
            let event = w.drain(q).await;
            if !event.records.is_empty() {
                moved = true;
                let r = fns.handle(q, event).await;
                assert_eq!(failures(&r), Vec::<String>::new(), "{q}: a record reported");
            }
        }
        // MediaConvert ends each job it took; Transcribe writes each transcript.
        let new_jobs: Vec<Value> = created.lock().unwrap()[completed..].to_vec();
        for job in &new_jobs {
            let token = job["clientRequestToken"].as_str().unwrap();
            let id = format!("job-{}", &token[token.len() - 16..]);
            let complete = complete_job(&w, job, &id).await;
            let r = fns.handle("transcode", sqs_event(&[complete])).await;
            assert_eq!(failures(&r), Vec::<String>::new());
            moved = true;
        }
        completed += new_jobs.len();
        let listed = transcribe.list_transcription_jobs().send().await.unwrap();
        for job in listed.transcription_job_summaries.unwrap_or_default() {
            let name = job.transcription_job_name.unwrap();
            if transcribed.insert(name.clone()) {
                let at = PlanKeys::of_job_name(&name).unwrap();
                w.put(&at.transcript_json(), transcript.clone()).await;
                moved = true;
            }
        }
        if !moved {
            let processing = w.function.records.processing().await.unwrap();
            if processing.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Every video published once, none failed.
    let mut ids = Vec::new();
    for i in 0..UPLOADS {
        let key = format!("uploads/talk-{i:02}.mp4");
        let job = created
            .lock()
            .unwrap()
            .iter()
            .find(|j| {
                let input = j["settings"]["inputs"][0]["fileInput"].as_str();
                input.is_some_and(|i| i.ends_with(&key))
            })
            .cloned()
            .unwrap_or_else(|| panic!("a job for {key}"));
        ids.push(
            job["userMetadata"]["video_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), UPLOADS, "one record per upload");
    for id in &ids {
        let id = vidpipe_domain::keys::VideoId::parse(id).unwrap();
        let rec = w.function.records.get(&id).await.unwrap().unwrap();
        assert_eq!(
            rec.status,
            VideoStatus::Published,
            "{id}: {:?}",
            rec.failure
        );
        assert_eq!(rec.generation, 0);
    }
    // One job of each kind per video, though CreateJob was refused again and again.
    let mut kinds: BTreeMap<(String, String), usize> = BTreeMap::new();
    for job in created.lock().unwrap().iter() {
        let meta = &job["userMetadata"];
        let key = (meta["video_id"].to_string(), meta["job"].to_string());
        *kinds.entry(key).or_default() += 1;
    }
    assert!(kinds.values().all(|n| *n == 1), "{kinds:?}");
    let per_kind = |kind: &str| {
        kinds
            .keys()
            .filter(|(_, k)| k == &format!("\"{kind}\""))
            .count()
    };
    assert_eq!(
        (per_kind("renditions"), per_kind("gif")),
        (UPLOADS, UPLOADS)
    );
    assert_eq!(transcribed.len(), UPLOADS, "one transcription per video");
    let refused = mediaconvert.requests.lock().unwrap().len() - created.lock().unwrap().len();
    assert!(
        refused >= UPLOADS,
        "MediaConvert refused {refused} requests"
    );
    let checked = fns.check_policies("template.yaml");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}

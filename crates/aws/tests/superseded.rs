//! A sidecar that arrives while its video's MediaConvert job runs, on moto with the
//! real SDK clients: the video is planned again as generation 1, the running job is
//! cancelled (CancelJob), the new job writes under `media/<id>/g1/`, and the old
//! job's late COMPLETE and its MP3 change nothing.

mod common;

use common::*;
use serde_json::{json, Value};
use vidpipe_domain::keys::{PlanKeys, VideoId};
use vidpipe_domain::record::{Stage, StageStatus, VideoStatus};

/// The job id the MediaConvert stub gives the job `body` asked for.
fn job_id_of(body: &Value) -> String {
    let token = body["clientRequestToken"].as_str().unwrap();
    format!("job-{}", &token[token.len() - 16..])
}

/// The renditions jobs (not the GIF's) MediaConvert was asked for, in order.
fn renditions_jobs(stub: &Stub) -> Vec<Value> {
    let bodies = stub.bodies();
    bodies
        .into_iter()
        .filter(|b| b["userMetadata"]["job"] == "renditions")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidecar_during_the_job_cancels_it_and_the_old_jobs_events_change_nothing() {
    let w = World::new(&[]).await;
    let mediaconvert = mediaconvert_stub();
    let fns = Functions::new(&w, &mediaconvert, None).await;
    let run = |function: &'static str| {
        let (w, fns) = (&w, &fns);
        async move {
            let r = fns.handle(function, w.drain(function).await).await;
            assert_eq!(failures(&r), Vec::<String>::new(), "{function}");
        }
    };

    w.put("uploads/talk.mp4", make_mp4(12, false)).await;
    run("ingest").await;
    run("transcode").await;
    let first = renditions_jobs(&mediaconvert);
    assert_eq!(first.len(), 1);
    let old = first[0].clone();
    assert_eq!(old["userMetadata"]["generation"], "0");
    let id = VideoId::parse(old["userMetadata"]["video_id"].as_str().unwrap()).unwrap();

    // The sidecar arrives while the job runs.
    let sidecar = json!({"title": "Cut later", "start": 2});
    w.put("uploads/talk.json", sidecar.to_string().into_bytes())
        .await;
    run("ingest").await;
    let rec = record(&w, &id).await;
    assert_eq!(rec.generation, 1);
    assert_eq!(rec.title(), "Cut later");
    assert_eq!(rec.superseded_jobs, vec![job_id_of(&old)]);
    run("transcode").await;
    let cancels: Vec<String> = mediaconvert
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(cancels, [format!("/2017-08-29/jobs/{}", job_id_of(&old))]);
    let jobs = renditions_jobs(&mediaconvert);
    assert_eq!(jobs.len(), 2, "one job per generation");
    let new = &jobs[1];
    assert_eq!(new["userMetadata"]["generation"], "1");
    assert_ne!(new["clientRequestToken"], old["clientRequestToken"]);
    let current = PlanKeys::new(&id, 1);
    for group in new["settings"]["outputGroups"].as_array().unwrap() {
        let settings = group["outputGroupSettings"].to_string();
        assert!(
            settings.contains(&format!("s3://{BUCKET}/{}", current.media_dir())),
            "{settings}"
        );
    }
    let rec = record(&w, &id).await;
    assert!(rec.superseded_jobs.is_empty());
    assert_eq!(rec.job_id, Some(job_id_of(new)));

    // The cancelled job had already written its files: its COMPLETE, and its MP3's
    // notification, change nothing.
    let stale = complete_job(&w, &old, &job_id_of(&old)).await;
    let r = fns.handle("transcode", sqs_event(&[stale])).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    run("transcribe-start").await;
    let rec = record(&w, &id).await;
    assert_eq!(rec.stage(Stage::Transcode), StageStatus::Running);
    assert_eq!(rec.stage(Stage::TranscribeStart), StageStatus::Pending);
    assert!(rec.outputs.is_empty(), "{:?}", rec.outputs);
    let transcribe = aws_sdk_transcribe::Client::new(&w.sdk);
    let listed = transcribe
        .list_transcription_jobs()
        .send()
        .await
        .unwrap()
        .transcription_job_summaries
        .unwrap_or_default();
    assert!(
        listed.is_empty(),
        "no transcription of the old MP3: {listed:?}"
    );

    // The current job completes: its outputs are recorded, and its MP3 is
    // transcribed under the generation's own job name.
    let complete = complete_job(&w, new, &job_id_of(new)).await;
    let r = fns.handle("transcode", sqs_event(&[complete])).await;
    assert_eq!(failures(&r), Vec::<String>::new());
    let rec = record(&w, &id).await;
    assert_eq!(rec.stage(Stage::Transcode), StageStatus::Done);
    assert_eq!(rec.status, VideoStatus::Processing);
    assert!(!rec.outputs.is_empty());
    for output in &rec.outputs {
        assert!(
            output.key.starts_with(&current.media_dir()),
            "{}",
            output.key
        );
    }
    run("transcribe-start").await;
    let job = transcribe
        .get_transcription_job()
        .transcription_job_name(current.transcription_job_name())
        .send()
        .await
        .unwrap()
        .transcription_job
        .unwrap();
    assert_eq!(
        job.media.unwrap().media_file_uri.unwrap(),
        format!("s3://{BUCKET}/{}", current.audio_mp3())
    );
    assert_eq!(current.transcription_job_name(), format!("vidpipe-{id}-g1"));
    // CancelJob, and each deferral's copy on the function's own queue, are in each
    // function's policy.
    let checked = fns.check_policies("template.yaml");
    let report = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{report}");
}

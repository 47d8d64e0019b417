//! MediaConvert jobs for sources at the edges: faster than 60 fps, 2160p, portrait
//! phone video. Each CreateJob body the SDK sends is checked with botocore's model
//! (scripts/validate-mediaconvert-job.py), and the fade overlay covers the whole input.

mod common;

use common::*;
use serde_json::Value;
use vidpipe_domain::fakes::media_info;
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::plan::{make_plan, ClipRequest, PlanConfig};
use vidpipe_domain::ports::{TranscodeJob, Transcoder};

/// The CreateJob bodies for a source of `width`×`height` at `fps`, turned by
/// `rotation_deg`, clipped to 10.5–40.25 s.
async fn create_jobs(width: u32, height: u32, fps: f64, rotation_deg: i32) -> Vec<Value> {
    let w = World::new(&[]).await;
    let mediaconvert = mediaconvert_stub();
    let transcoder = stub_transcoder(&mediaconvert, &w.function.store).await;
    let mut media = media_info(Some((width, height)), fps, 60.0, true);
    media.video.as_mut().unwrap().rotation_deg = rotation_deg;
    let clip = ClipRequest {
        start_s: Some(10.5),
        end_s: Some(40.25),
    };
    let job = TranscodeJob {
        video_id: VideoId::parse("0123456789abcdef").unwrap(),
        generation: 0,
        source_key: "uploads/edge.mov".into(),
        plan: make_plan(&media, clip, &PlanConfig::default()).unwrap(),
    };
    transcoder.submit(&job).await.unwrap();
    let bodies = mediaconvert.bodies();
    assert_eq!(bodies.len(), 2, "the renditions job and the GIF job");
    for body in &bodies {
        validate_create_job(body).unwrap_or_else(|e| panic!("{e}\n{body:#}"));
    }
    bodies
}

fn overlays(job: &Value) -> &Vec<Value> {
    job["settings"]["inputs"][0]["imageInserter"]["insertableImages"]
        .as_array()
        .expect("the fades' overlays")
}

fn frame_number(timecode: &Value) -> u32 {
    let tc = timecode.as_str().expect("a timecode");
    tc[9..].parse().unwrap_or_else(|_| panic!("{tc}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_120_fps_2160p_source_gets_valid_timecodes_and_an_overlay_over_the_whole_input() {
    let jobs = create_jobs(3840, 2160, 120.0, 0).await;
    let renditions = &jobs[0];
    let clipping = &renditions["settings"]["inputs"][0]["inputClippings"][0];
    // 60 a second at 120 fps: 10.5 s is frame 30 of second 10.
    assert_eq!(clipping["startTimecode"], "00:00:10:30");
    assert_eq!(clipping["endTimecode"], "00:00:40:15");
    let images = overlays(renditions);
    assert_eq!(images.len(), 2);
    for image in images {
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(3840), Some(2160))
        );
        assert!(frame_number(&image["startTime"]) < 60, "{image}");
    }
    let gif_clip = &jobs[1]["settings"]["inputs"][0]["inputClippings"][0];
    assert!(frame_number(&gif_clip["startTimecode"]) < 60, "{gif_clip}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portrait_phone_video_is_covered_in_its_turned_frame() {
    let jobs = create_jobs(1920, 1080, 30.0, 90).await;
    for image in overlays(&jobs[0]) {
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(1080), Some(1920))
        );
    }
}

/// A GIF job MediaConvert refuses does not fail the submission: the renditions job's
/// id is returned for the record, and no second renditions job is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_gif_job_keeps_the_renditions_job_and_its_id() {
    let w = World::new(&[]).await;
    let mediaconvert = Stub::start(|r| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if body["userMetadata"]["job"] == "gif" {
            let refusal = serde_json::json!({"message": "Invalid GIF settings"});
            return (400, refusal.to_string());
        }
        let job = serde_json::json!({"job": {"id": "job-renditions", "status": "SUBMITTED"}});
        (201, job.to_string())
    });
    let transcoder = stub_transcoder(&mediaconvert, &w.function.store).await;
    let job = TranscodeJob {
        video_id: VideoId::parse("0123456789abcdef").unwrap(),
        generation: 0,
        source_key: "uploads/talk.mp4".into(),
        plan: make_plan(
            &media_info(Some((1280, 720)), 25.0, 30.0, true),
            ClipRequest::default(),
            &PlanConfig::default(),
        )
        .unwrap(),
    };
    let submitted = transcoder
        .submit(&job)
        .await
        .expect("submitted without its GIF");
    assert_eq!(
        submitted,
        vidpipe_domain::ports::Submission::Submitted {
            job_id: "job-renditions".into()
        }
    );
    let kinds: Vec<Value> = mediaconvert
        .bodies()
        .iter()
        .map(|b| b["userMetadata"]["job"].clone())
        .collect();
    assert_eq!(kinds, ["renditions", "gif"]);
}

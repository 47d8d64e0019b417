//! The job settings as pure functions: what each output group and input says.

use vidpipe_domain::keys::VideoId;
use vidpipe_domain::plan::{make_plan, ClipRequest, PlanConfig, PROMO_FADE_S};
use vidpipe_domain::understanding::PromoSegment;

use super::*;
use vidpipe_domain::ports::PromoJob;

fn job(start_s: f64, end_s: f64) -> TranscodeJob {
    let media = vidpipe_domain::fakes::media_info(Some((1920, 1080)), 25.0, 60.0, true);
    let request = ClipRequest {
        start_s: Some(start_s),
        end_s: Some(end_s),
    };
    TranscodeJob {
        video_id: VideoId::parse("0123456789abcdef").unwrap(),
        generation: 0,
        source_key: "uploads/talk one.mp4".into(),
        plan: make_plan(&media, request, &PlanConfig::default()).unwrap(),
    }
}

fn overlays(input: &aws_sdk_mediaconvert::types::Input) -> &[InsertableImage] {
    let inserter = input.image_inserter.as_ref().expect("an image inserter");
    inserter.insertable_images.as_deref().unwrap_or_default()
}

fn destination_of(group: &OutputGroup) -> String {
    let s = group.output_group_settings.as_ref().unwrap();
    match (&s.file_group_settings, &s.cmaf_group_settings) {
        (Some(f), _) => f.destination.clone().unwrap(),
        (_, Some(c)) => c.destination.clone().unwrap(),
        _ => panic!("no destination"),
    }
}

#[test]
fn the_renditions_job_cuts_fades_and_names_outputs_from_the_layout() {
    let j = job(10.0, 40.0);
    let settings = job_settings("b", &j);
    let input = &settings.inputs.as_ref().unwrap()[0];
    assert_eq!(
        input.file_input.as_deref(),
        Some("s3://b/uploads/talk one.mp4")
    );
    let clip = &input.input_clippings.as_ref().unwrap()[0];
    assert_eq!(clip.start_timecode.as_deref(), Some("00:00:10:00"));
    assert_eq!(clip.end_timecode.as_deref(), Some("00:00:40:00"));
    let images = overlays(input);
    assert_eq!(images.len(), 2, "a fade in and a fade out");
    assert_eq!(images[0].start_time.as_deref(), Some("00:00:10:00"));
    assert_eq!(images[1].start_time.as_deref(), Some("00:00:37:00"));
    assert_eq!(
        (images[0].width, images[0].height),
        (Some(1920), Some(1080))
    );
    let groups = settings.output_groups.as_ref().unwrap();
    let base = "s3://b/media/0123456789abcdef/";
    let names: Vec<String> = groups.iter().map(destination_of).collect();
    assert_eq!(
        names,
        [
            format!("{base}{}", layout::RENDITION_STEM),
            format!("{base}{}", layout::HLS_STEM),
            format!("{base}{}", layout::MP3_STEM),
            format!("{base}{}", layout::FRAME_STEM),
        ]
    );
    let modifiers = |g: &OutputGroup| -> Vec<String> {
        let outputs = g.outputs.as_ref().unwrap();
        outputs
            .iter()
            .map(|o| o.name_modifier.clone().unwrap())
            .collect()
    };
    // The progressive MP4 is the top rung's only, with its sound.
    assert_eq!(modifiers(&groups[0]), ["_1080p"]);
    let mp4 = &groups[0].outputs.as_ref().unwrap()[0];
    assert!(mp4.audio_descriptions.is_some() && mp4.video_description.is_some());
    // The ladder: one CMAF single file per rung (picture only) and one for the sound.
    assert_eq!(
        modifiers(&groups[1]),
        ["_1080p", "_720p", "_480p", "_360p", "_audio"]
    );
    let cmaf = groups[1]
        .output_group_settings
        .as_ref()
        .unwrap()
        .cmaf_group_settings
        .as_ref()
        .unwrap();
    assert_eq!(cmaf.segment_control, Some(CmafSegmentControl::SingleFile));
    assert_eq!(cmaf.write_hls_manifest, Some(CmafWriteHlsManifest::Enabled));
    assert_eq!(
        cmaf.write_dash_manifest,
        Some(CmafWriteDashManifest::Disabled)
    );
    assert_eq!(cmaf.segment_length, Some(6));
    let outputs = groups[1].outputs.as_ref().unwrap();
    for o in &outputs[..4] {
        assert!(
            o.audio_descriptions.is_none(),
            "a CMAF output holds one track"
        );
        let cmfc = o
            .container_settings
            .as_ref()
            .unwrap()
            .cmfc_settings
            .as_ref();
        assert_eq!(
            cmfc.unwrap().audio_rendition_sets.as_deref(),
            Some(layout::HLS_AUDIO_GROUP)
        );
    }
    let sound = &outputs[4];
    assert!(sound.video_description.is_none());
    let cmfc = sound
        .container_settings
        .as_ref()
        .unwrap()
        .cmfc_settings
        .as_ref();
    assert_eq!(
        cmfc.unwrap().audio_group_id.as_deref(),
        Some(layout::HLS_AUDIO_GROUP)
    );
    // Every H.264 output in the Basic tier: not multi-pass.
    for o in outputs[..4].iter().chain([mp4]) {
        let codec = o
            .video_description
            .as_ref()
            .unwrap()
            .codec_settings
            .as_ref();
        let h264 = codec.unwrap().h264_settings.as_ref().unwrap();
        assert_eq!(
            h264.quality_tuning_level,
            Some(H264QualityTuningLevel::SinglePassHq)
        );
    }
}

#[test]
fn the_gif_and_promo_jobs_clip_their_windows_of_the_source() {
    let j = job(10.0, 40.0);
    let gif = gif_job_settings("b", &j).unwrap();
    let clip = &gif.inputs.as_ref().unwrap()[0]
        .input_clippings
        .as_ref()
        .unwrap()[0];
    // The GIF sits mid-clip: 12.5 s into the clip, 22.5 s into the source (frame 12 of
    // second 22 at 25 fps), for 5 s.
    assert_eq!(clip.start_timecode.as_deref(), Some("00:00:22:12"));
    assert_eq!(clip.end_timecode.as_deref(), Some("00:00:27:12"));
    let seg = |start_s, end_s| PromoSegment {
        start_s,
        end_s,
        text: String::new(),
    };
    let promo = PromoJob {
        video_id: j.video_id.clone(),
        generation: 0,
        source_key: j.source_key.clone(),
        plan: j.plan.clone(),
        segments: vec![seg(4.0, 9.0), seg(25.0, 35.0)],
        fade_s: PROMO_FADE_S,
        vertical: None,
    };
    let settings = promo_job_settings("b", &promo).unwrap();
    let input = &settings.inputs.as_ref().unwrap()[0];
    let clips: Vec<_> = input
        .input_clippings
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c.start_timecode.clone().unwrap(),
                c.end_timecode.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        clips,
        [
            ("00:00:14:00".to_string(), "00:00:19:00".to_string()),
            ("00:00:35:00".to_string(), "00:00:40:00".to_string()),
        ],
        "the second window ends at the clip's out point"
    );
    let images = overlays(input);
    assert_eq!(images.len(), 4, "two fades per window");
    assert_eq!(
        destination_of(&settings.output_groups.as_ref().unwrap()[0]),
        format!("s3://b/media/0123456789abcdef/{}", layout::PROMO_STEM)
    );
    assert_eq!(
        settings.output_groups.as_ref().unwrap()[0]
            .outputs
            .as_ref()
            .unwrap()
            .len(),
        1
    );
    // With the vertical cut: a second output, its 9:16 window of the 1920×1080 input
    // cropped on the input's pixels and scaled to 1080×1920 at most (never up).
    let crop = vidpipe_domain::destinations::vertical::vertical_crop(1920, 1080, &[]);
    let settings = promo_job_settings(
        "b",
        &PromoJob {
            vertical: Some(crop),
            ..promo
        },
    )
    .unwrap();
    let outputs = settings.output_groups.as_ref().unwrap()[0]
        .outputs
        .clone()
        .unwrap();
    assert_eq!(outputs.len(), 2);
    let vertical = &outputs[1];
    assert_eq!(vertical.name_modifier.as_deref(), Some("-vertical"));
    let video = vertical.video_description.as_ref().unwrap();
    let rect = video.crop.as_ref().unwrap();
    assert_eq!(
        (rect.x, rect.y, rect.width, rect.height),
        (Some(656), Some(0), Some(606), Some(1080))
    );
    assert_eq!((video.width, video.height), (Some(606), Some(1076)));
    assert!(vertical.audio_descriptions.is_some());
}

#[test]
fn an_audio_only_plan_makes_only_the_mp3_at_fallback_timecodes() {
    let mut media = vidpipe_domain::fakes::media_info(None, 0.0, 60.0, true);
    media.video = None;
    let plan = make_plan(&media, ClipRequest::default(), &PlanConfig::default()).unwrap();
    let j = TranscodeJob {
        video_id: VideoId::parse("0123456789abcdef").unwrap(),
        generation: 0,
        source_key: "uploads/a.wav".into(),
        plan,
    };
    let settings = job_settings("b", &j);
    let groups = settings.output_groups.as_ref().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].name.as_deref(), Some("audio"));
    let input = &settings.inputs.as_ref().unwrap()[0];
    assert!(input.image_inserter.is_none() && input.video_selector.is_none());
    assert!(gif_job_settings("b", &j).is_none());
}

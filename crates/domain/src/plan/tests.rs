//! The plan's rules, as numbers.

use super::*;

fn media(w: u32, h: u32, duration_s: f64, audio: bool) -> MediaInfo {
    crate::fakes::media_info(Some((w, h)), 25.0, duration_s, audio)
}

fn sizes(plan: &Plan) -> Vec<(u32, u32)> {
    plan.renditions
        .iter()
        .map(|r| (r.width_px, r.height_px))
        .collect()
}

fn plan(m: &MediaInfo) -> Plan {
    make_plan(m, ClipRequest::default(), &PlanConfig::default()).unwrap()
}

#[test]
fn full_hd_source_gets_the_whole_ladder() {
    let p = plan(&media(1920, 1080, 60.0, true));
    assert_eq!(
        sizes(&p),
        vec![(1920, 1080), (1280, 720), (854, 480), (640, 360)]
    );
    assert!(p.renditions.iter().all(|r| r.audio_bitrate_bps.is_some()));
    assert_eq!(p.hls_segment_s, Some(6));
    assert_eq!(p.mp3_bitrate_bps, Some(128_000));
}

#[test]
fn never_upscales_a_720p_source() {
    let p = plan(&media(1280, 720, 60.0, true));
    assert_eq!(sizes(&p), vec![(1280, 720), (854, 480), (640, 360)]);
    assert_eq!(p.frames.as_ref().unwrap().width_px, 1280);
}

#[test]
fn portrait_stays_portrait_sized_by_short_side() {
    let p = plan(&media(1080, 1920, 30.0, true));
    assert_eq!(
        sizes(&p),
        vec![(1080, 1920), (720, 1280), (480, 854), (360, 640)]
    );
    let gif = p.gif.unwrap();
    assert!(gif.height_px > gif.width_px && gif.width_px <= 480);
}

#[test]
fn rotated_phone_video_is_planned_as_displayed() {
    let mut m = media(1920, 1080, 30.0, true);
    m.video.as_mut().unwrap().rotation_deg = 90;
    assert_eq!(sizes(&plan(&m))[0], (1080, 1920));
}

#[test]
fn odd_source_dimensions_give_even_sizes_without_upscaling() {
    let p = plan(&media(1279, 719, 20.0, true));
    assert_eq!(sizes(&p), vec![(1278, 718), (854, 480), (640, 360)]);
    for r in &p.renditions {
        assert!(r.width_px.is_multiple_of(2) && r.height_px.is_multiple_of(2));
        assert!(r.width_px <= 1279 && r.height_px <= 719);
    }
    let g = p.gif.unwrap();
    assert!(g.width_px.is_multiple_of(2) && g.height_px.is_multiple_of(2));
}

#[test]
fn tiny_source_gets_one_rendition_at_its_own_size() {
    let p = plan(&media(321, 241, 10.0, false));
    assert_eq!(sizes(&p), vec![(320, 240)]);
    assert_eq!(p.renditions[0].name, "240p");
    assert_eq!(p.renditions[0].audio_bitrate_bps, None);
}

#[test]
fn clip_past_the_end_is_clamped_and_noted() {
    let m = media(1280, 720, 42.5, true);
    let p = make_plan(
        &m,
        ClipRequest {
            start_s: Some(10.0),
            end_s: Some(100.0),
        },
        &PlanConfig::default(),
    )
    .unwrap();
    assert_eq!((p.clip.start_s, p.clip.end_s), (10.0, 42.5));
    assert_eq!(p.clip.requested_end_s, Some(100.0));
    assert!(
        p.notes.iter().any(|n| n.contains("clamped")),
        "{:?}",
        p.notes
    );
}

#[test]
fn start_not_before_end_or_past_the_source_is_rejected() {
    let m = media(1280, 720, 42.5, true);
    let cfg = PlanConfig::default();
    for (s, e) in [
        (Some(20.0), Some(20.0)),
        (Some(30.0), Some(10.0)),
        (Some(50.0), None),
    ] {
        let err = make_plan(
            &m,
            ClipRequest {
                start_s: s,
                end_s: e,
            },
            &cfg,
        )
        .unwrap_err();
        assert!(matches!(err, InputError::BadClip(_)), "{err}");
    }
}

#[test]
fn fades_are_shortened_for_short_clips_only() {
    let m = media(1280, 720, 60.0, true);
    let cfg = PlanConfig::default();
    let long = make_plan(
        &m,
        ClipRequest {
            start_s: Some(0.0),
            end_s: Some(6.0),
        },
        &cfg,
    )
    .unwrap();
    assert_eq!((long.fades.fade_in_s, long.fades.shortened), (3.0, false));
    let short = make_plan(
        &m,
        ClipRequest {
            start_s: Some(1.0),
            end_s: Some(5.0),
        },
        &cfg,
    )
    .unwrap();
    assert_eq!(short.fades.fade_in_s, 2.0);
    assert_eq!(short.fades.fade_out_start_s, 2.0);
    assert!(short.fades.shortened && short.notes.iter().any(|n| n.contains("fades shortened")));
    let custom = PlanConfig {
        fade_s: 1.0,
        ..PlanConfig::default()
    };
    assert_eq!(
        make_plan(&m, ClipRequest::default(), &custom)
            .unwrap()
            .fades
            .fade_out_start_s,
        59.0
    );
}

#[test]
fn no_audio_stream_means_no_mp3_and_silent_renditions() {
    let p = plan(&media(1920, 1080, 60.0, false));
    assert_eq!(p.mp3_bitrate_bps, None);
    assert!(p.renditions.iter().all(|r| r.audio_bitrate_bps.is_none()));
    assert!(p.gif.is_some() && p.frames.is_some());
}

#[test]
fn audio_only_source_gets_only_audio_outputs() {
    let mut m = media(1, 1, 300.0, true);
    m.video = None;
    let p = plan(&m);
    assert!(p.renditions.is_empty() && p.gif.is_none() && p.frames.is_none());
    assert_eq!(p.hls_segment_s, None);
    assert_eq!(p.mp3_bitrate_bps, Some(128_000));
}

#[test]
fn gif_keeps_its_length_in_a_clip_barely_longer_than_the_fades() {
    let m = media(1920, 1080, 60.0, true);
    let p = make_plan(
        &m,
        ClipRequest {
            start_s: Some(0.0),
            end_s: Some(10.0),
        },
        &PlanConfig::default(),
    )
    .unwrap();
    let g = p.gif.unwrap();
    assert_eq!((g.start_s, g.duration_s), (2.5, 5.0));
    let tiny = make_plan(
        &m,
        ClipRequest {
            start_s: Some(0.0),
            end_s: Some(2.0),
        },
        &PlanConfig::default(),
    )
    .unwrap();
    assert_eq!(
        (
            tiny.gif.as_ref().unwrap().start_s,
            tiny.gif.unwrap().duration_s
        ),
        (0.0, 2.0)
    );
}

#[test]
fn gif_sits_between_the_fades() {
    let p = plan(&media(1920, 1080, 60.0, true));
    let g = p.gif.unwrap();
    assert_eq!((g.width_px, g.height_px, g.duration_s), (480, 270, 5.0));
    assert!(g.start_s >= p.fades.fade_in_s && g.start_s + g.duration_s <= p.fades.fade_out_start_s);
}

#[test]
fn frame_captures_cover_the_clip_within_the_cap() {
    let p = plan(&media(1920, 1080, 3600.0, true));
    let f = p.frames.unwrap();
    assert_eq!((f.interval_s, f.count), (120.0, 30));
    let short = plan(&media(1920, 1080, 10.0, true)).frames.unwrap();
    assert_eq!((short.interval_s, short.count), (1.0, 10));
    assert!(short.time_of_s(short.count - 1) < 10.0);
}

#[test]
fn no_streams_or_no_duration_is_an_error() {
    let mut m = media(1920, 1080, 60.0, true);
    m.duration_s = 0.0;
    assert!(make_plan(&m, ClipRequest::default(), &PlanConfig::default()).is_err());
    let mut m = media(1920, 1080, 60.0, true);
    m.video = None;
    m.audio = None;
    assert!(make_plan(&m, ClipRequest::default(), &PlanConfig::default()).is_err());
}

#[test]
fn timecode_rate_and_gop_fall_back_to_25_fps_without_video() {
    let p = plan(&media(1280, 720, 60.0, true));
    assert_eq!((p.timecode_fps(), p.gop_frames()), (25.0, 50));
    let mut m = media(1280, 720, 60.0, true);
    m.video = None;
    let audio = plan(&m);
    assert_eq!(
        (audio.timecode_fps(), audio.gop_frames()),
        (FALLBACK_FPS, 50)
    );
    let mut fast = media(1280, 720, 60.0, true);
    fast.video.as_mut().unwrap().fps = 29.97;
    assert_eq!(plan(&fast).gop_frames(), 60);
}

#[test]
fn clip_times_are_offset_into_the_source() {
    let p = make_plan(
        &media(1920, 1080, 60.0, true),
        ClipRequest {
            start_s: Some(10.0),
            end_s: Some(40.0),
        },
        &PlanConfig::default(),
    )
    .unwrap();
    assert_eq!(p.source_time_s(4.0), 14.0);
    let gif = p.gif_source_window().unwrap();
    assert_eq!((gif.start_s, gif.end_s, gif.fade_s), (22.5, 27.5, 0.0));
    let frames = p.frames.as_ref().unwrap();
    assert_eq!(frames.every_nth_frame(p.timecode_fps()), 25);
}

#[test]
fn promo_windows_stay_in_the_clip_and_halve_short_fades() {
    let p = make_plan(
        &media(1280, 720, 60.0, true),
        ClipRequest {
            start_s: Some(10.0),
            end_s: Some(40.0),
        },
        &PlanConfig::default(),
    )
    .unwrap();
    let seg = |start_s: f64, end_s: f64| PromoSegment {
        start_s,
        end_s,
        text: String::new(),
    };
    let w = p.promo_windows(
        &[
            seg(4.0, 9.5),
            seg(20.0, 20.4),
            seg(28.0, 35.0),
            seg(5.0, 5.0),
        ],
        PROMO_FADE_S,
    );
    assert_eq!((w[0].start_s, w[0].end_s, w[0].fade_s), (14.0, 19.5, 0.3));
    assert_eq!(w[1].start_s, 30.0);
    assert!((w[1].duration_s() - 0.4).abs() < 1e-9 && (w[1].fade_s - 0.2).abs() < 1e-9);
    assert_eq!(w[2].end_s, 40.0, "clamped to the clip's out point");
    assert!((w[3].duration_s() - MIN_PROMO_SEGMENT_S).abs() < 1e-9);
}

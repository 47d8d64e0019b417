//! The command lines as pure functions.

use std::path::Path;

use vidpipe_domain::plan::PROMO_FADE_S;
use vidpipe_domain::ports::PromoJob;

use super::*;
use crate::transcoder::{test_plan as plan, EncoderSettings};

fn joined(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn one_graph_splits_the_decoded_stream_into_every_output() {
    let args = joined(&ffmpeg_args(
        &plan(true, Some(10.0)),
        Path::new("/in/a b.mp4"),
        &EncoderSettings::default(),
    ));
    assert!(
        args.contains("-ss 10.000 -t 30.000 -i file:/in/a b.mp4"),
        "{args}"
    );
    // 3 rungs + GIF + frames from one video split; the AAC and the MP3 from one audio split.
    assert!(args.contains("split=5[v0][v1][v2][v3][v4]"), "{args}");
    assert!(args.contains("asplit=2[a0][a1]"), "{args}");
    assert!(
        args.contains("fade=t=in:st=0:d=3.000,fade=t=out:st=27.000:d=3.000"),
        "{args}"
    );
    assert!(
        args.contains("afade=t=in:st=0:d=3.000,afade=t=out:st=27.000:d=3.000"),
        "{args}"
    );
    assert!(args.contains("scale=854:480"), "{args}");
    // The top rung: the progressive MP4 (picture and sound), its picture and the
    // sound as single-file fMP4 HLS renditions; one encoding of each.
    let fmp4 = "hls_playlist_type=vod:hls_segment_type=fmp4:hls_flags=single_file";
    assert!(args.contains("-map [r0] -map [a0] -c:v libx264"), "{args}");
    assert!(
        args.contains(&format!(
            "[f=mp4:movflags=+faststart]video_720p.mp4|[f=hls:hls_time=6:{fmp4}:hls_segment_filename=hls/video_720p.mp4:select=v]hls/video_720p.m3u8|[f=hls:hls_time=6:{fmp4}:hls_segment_filename=hls/video_audio.mp4:select=a]hls/video_audio.m3u8"
        )),
        "{args}"
    );
    // The lower rungs: picture only, no MP4.
    assert!(
        args.contains(&format!(
            "-f tee [f=hls:hls_time=6:{fmp4}:hls_segment_filename=hls/video_480p.mp4:select=v]hls/video_480p.m3u8"
        )),
        "{args}"
    );
    assert!(!args.contains("video_480p.mp4|"), "{args}");
    assert_eq!(args.matches("-c:a aac").count(), 1, "{args}");
    assert!(args.contains("-g 60 -keyint_min 60"), "{args}");
    assert!(args.contains("-map [a1] -c:a libmp3lame"), "{args}");
    assert!(args.contains("trim=start="), "{args}");
    assert!(args.contains("select='not(mod(n\\,30))'"), "{args}");
    assert!(
        args.contains("-fps_mode passthrough -frames:v 30"),
        "{args}"
    );
    assert_eq!(args.matches("-i ").count(), 1, "one input, one decode");
}

#[test]
fn the_promo_decodes_only_its_segments_and_fades_every_join() {
    use vidpipe_domain::understanding::PromoSegment;
    let p = plan(true, Some(10.0)); // clip from 10 s, top rendition 1280x720
    let job = PromoJob {
        video_id: vidpipe_domain::VideoId::parse("0123456789abcdef").unwrap(),
        generation: 0,
        source_key: "uploads/a.mp4".into(),
        plan: p,
        segments: vec![
            PromoSegment {
                start_s: 4.0,
                end_s: 9.5,
                text: "a".into(),
            },
            PromoSegment {
                start_s: 20.0,
                end_s: 20.4,
                text: "b".into(),
            },
        ],
        fade_s: PROMO_FADE_S,
        vertical: None,
    };
    let args = joined(&promo_args(
        &job,
        Path::new("/in/a.mp4"),
        &EncoderSettings::default(),
    ));
    assert!(
        args.contains("-ss 14.000 -t 5.500 -i file:/in/a.mp4"),
        "{args}"
    );
    assert!(
        args.contains("-ss 30.000 -t 0.400 -i file:/in/a.mp4"),
        "{args}"
    );
    assert!(
        args.contains("fade=t=in:st=0:d=0.300,fade=t=out:st=5.200:d=0.300"),
        "{args}"
    );
    assert!(
        args.contains("fade=t=in:st=0:d=0.200,fade=t=out:st=0.200:d=0.200"),
        "a short segment's fades are halved: {args}"
    );
    assert!(
        args.contains("[v0][a0][v1][a1]concat=n=2:v=1:a=1[v][a]"),
        "{args}"
    );
    assert!(
        args.contains("scale=1280:720") && args.ends_with("-movflags +faststart promo.mp4"),
        "{args}"
    );
}

#[test]
fn no_audio_means_no_audio_graph_and_no_mp3() {
    let args = joined(&ffmpeg_args(
        &plan(false, None),
        Path::new("/in/x.mp4"),
        &EncoderSettings::default(),
    ));
    assert!(
        !args.contains("asplit") && !args.contains("libmp3lame") && !args.contains("-c:a"),
        "{args}"
    );
    assert!(!args.contains("-ss "), "{args}");
}

#[test]
fn args_read_one_flag_per_line() {
    let mut args: Vec<OsString> = Vec::new();
    args.arg2("-crf", 23)
        .arg2_opt("-ss", None::<String>)
        .arg2_opt("-t", Some("1.500"))
        .arg_if(false, "-y")
        .arg_if(true, "-n");
    assert_eq!(joined(&args), "-crf 23 -t 1.500 -n");
}

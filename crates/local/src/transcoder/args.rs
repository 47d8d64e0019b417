//! The ffmpeg command lines, as pure functions of the plan: the filter graph and the
//! output options are built apart, one flag per line through [`ArgsExt`].

use std::ffi::OsString;
use std::path::Path;

use vidpipe_domain::destinations::vertical::output_size;
use vidpipe_domain::layout;
use vidpipe_domain::plan::{Fades, Plan};
use vidpipe_domain::ports::PromoJob;

use super::EncoderSettings;
use crate::probe::file_arg;

/// Appending to an argument list one flag at a time (as ab-av1 builds its ffmpeg
/// commands): `arg2("-crf", 23)`, `arg2_opt("-ss", start)`, `arg_if(cond, "-y")`.
pub trait ArgsExt {
    fn arg(&mut self, a: impl Into<OsString>) -> &mut Self;
    fn arg2(&mut self, flag: &str, value: impl ToString) -> &mut Self;
    /// `flag value` where `value` is `Some`.
    fn arg2_opt(&mut self, flag: &str, value: Option<impl ToString>) -> &mut Self {
        match value {
            Some(v) => self.arg2(flag, v),
            None => self,
        }
    }
    fn arg_if(&mut self, condition: bool, a: impl Into<OsString>) -> &mut Self {
        if condition {
            self.arg(a);
        }
        self
    }
}

impl ArgsExt for Vec<OsString> {
    fn arg(&mut self, a: impl Into<OsString>) -> &mut Self {
        self.push(a.into());
        self
    }
    fn arg2(&mut self, flag: &str, value: impl ToString) -> &mut Self {
        self.push(flag.into());
        self.push(value.to_string().into());
        self
    }
}

/// Seconds as ffmpeg options take them, to the millisecond.
pub(super) fn secs(x: f64) -> String {
    format!("{:.3}", x.max(0.0))
}

/// `fade` (picture) or `afade` (sound) in from the start over `in_s`, and out over
/// `out_s` from `out_start_s`: `fade=t=in:st=0:d=3.000,fade=t=out:st=57.000:d=3.000`.
fn fade_filters(kind: &str, in_s: f64, out_start_s: f64, out_s: f64) -> String {
    format!(
        "{kind}=t=in:st=0:d={},{kind}=t=out:st={}:d={}",
        secs(in_s),
        secs(out_start_s),
        secs(out_s)
    )
}

/// The clip's fades as `kind` filters; `None` when the plan has no fade.
fn clip_fades(kind: &str, f: &Fades) -> Option<String> {
    (f.fade_in_s > 0.0).then(|| fade_filters(kind, f.fade_in_s, f.fade_out_start_s, f.fade_out_s))
}

/// What every ffmpeg run here starts with: quiet but for errors, progress on stdout.
fn base_args() -> Vec<OsString> {
    let mut args = Vec::new();
    args.arg("-hide_banner")
        .arg("-nostdin")
        .arg("-y")
        .arg2("-v", "error")
        .arg2("-progress", "pipe:1")
        .arg("-nostats");
    args
}

/// H.264 High profile, 4:2:0, constant quality capped at `maxrate_bps` (the
/// rendition's peak; VBV buffer twice that).
fn x264_args(args: &mut Vec<OsString>, settings: &EncoderSettings, maxrate_bps: u64) {
    args.arg2("-c:v", "libx264")
        .arg2("-preset", &settings.preset)
        .arg2("-crf", settings.crf)
        .arg2("-maxrate", maxrate_bps)
        .arg2("-bufsize", 2 * maxrate_bps)
        .arg2("-profile:v", "high")
        .arg2("-pix_fmt", "yuv420p");
}

/// `[x0][x1]…[x{n-1}]`: the labels of a split's branches.
fn labels(prefix: &str, n: usize) -> String {
    (0..n).map(|i| format!("[{prefix}{i}]")).collect()
}

/// The filter graph of the renditions job: the decoded picture faded and split into
/// one branch per rung (`[r<i>]`), the GIF (`[gif]`) and the frame captures
/// (`[frames]`); the sound faded and split in two: the AAC of the HLS audio rendition
/// and the progressive MP4 (`[a0]`), and the MP3 (`[a1]`).
pub fn filter_graph(plan: &Plan) -> String {
    let f = &plan.fades;
    let mut graph: Vec<String> = Vec::new();
    let video_branches =
        plan.renditions.len() + plan.gif.is_some() as usize + plan.frames.is_some() as usize;
    if video_branches > 0 {
        let fade = clip_fades("fade", f).map(|x| x + ",").unwrap_or_default();
        graph.push(format!(
            "[0:v:0]{fade}format=yuv420p,split={video_branches}{}",
            labels("v", video_branches)
        ));
    }
    if plan.mp3_bitrate_bps.is_some() {
        let branches = 1 + usize::from(plan.audio_rendition_bps().is_some());
        let fade = clip_fades("afade", f)
            .map(|x| format!(",{x}"))
            .unwrap_or_default();
        graph.push(format!(
            "[0:a:0]aformat=channel_layouts=stereo|mono{fade},asplit={branches}{}",
            labels("a", branches)
        ));
    }
    let mut branch = 0;
    for (i, r) in plan.renditions.iter().enumerate() {
        graph.push(format!(
            "[v{branch}]scale={}:{}:flags=bicubic,setsar=1[r{i}]",
            r.width_px, r.height_px
        ));
        branch += 1;
    }
    if let Some(g) = &plan.gif {
        graph.push(format!(
            "[v{branch}]trim=start={}:duration={},setpts=PTS-STARTPTS,fps={},scale={}:{}:flags=lanczos,split[g0][g1];\
             [g0]palettegen=stats_mode=diff[gp];[g1][gp]paletteuse=dither=bayer:bayer_scale=5:diff_mode=rectangle[gif]",
            secs(g.start_s), secs(g.duration_s), g.fps, g.width_px, g.height_px
        ));
        branch += 1;
    }
    if let Some(fr) = &plan.frames {
        // Every n-th decoded frame, so capture k is the frame at exactly k × interval
        // (the fps filter would pick one from around the middle of each interval).
        graph.push(format!(
            "[v{branch}]select='not(mod(n\\,{}))',scale={}:{}:flags=bicubic[frames]",
            fr.every_nth_frame(plan.timecode_fps()),
            fr.width_px,
            fr.height_px
        ));
    }
    graph.join(";")
}

/// One HLS rendition's muxer options: a single-file fragmented MP4 at
/// [`layout::hls_media`], its playlist addressing each segment by byte range
/// (ffmpeg's `hls_segment_type=fmp4`, `hls_flags=single_file`), as `key=value`
/// options of a tee slave.
fn hls_slave(rung: &str, segment_s: u32) -> String {
    format!(
        "f=hls:hls_time={segment_s}:hls_playlist_type=vod:hls_segment_type=fmp4:hls_flags=single_file:hls_segment_filename={}",
        layout::hls_media(rung)
    )
}

/// Each rung's picture encoded once, into its HLS rendition; the top rung's also
/// into the progressive MP4, which takes the sound too, and the sound (encoded once)
/// into the HLS audio rendition: one tee with three slaves. Names from [`layout`].
fn rendition_outputs(args: &mut Vec<OsString>, plan: &Plan, settings: &EncoderSettings) {
    let gop = plan.gop_frames();
    let hls_s = plan.hls_segment_s.unwrap_or(6);
    for (i, r) in plan.renditions.iter().enumerate() {
        let top = i == 0;
        let audio = plan.audio_rendition_bps().filter(|_| top);
        args.arg2("-map", format!("[r{i}]"));
        if audio.is_some() {
            args.arg2("-map", "[a0]");
        }
        x264_args(args, settings, r.video_max_bitrate_bps);
        args.arg2("-g", gop)
            .arg2("-keyint_min", gop)
            .arg2("-sc_threshold", 0);
        if let Some(abr) = audio {
            args.arg2("-c:a", "aac").arg2("-b:a", abr);
        }
        let picture = format!(
            "[{}:select=v]{}",
            hls_slave(&r.name, hls_s),
            layout::hls_variant(&r.name)
        );
        let slaves = if top {
            let mut slaves = vec![
                format!("[f=mp4:movflags=+faststart]{}", layout::rendition(&r.name)),
                picture,
            ];
            if audio.is_some() {
                slaves.push(format!(
                    "[{}:select=a]{}",
                    hls_slave(layout::AUDIO_RENDITION, hls_s),
                    layout::hls_variant(layout::AUDIO_RENDITION)
                ));
            }
            slaves.join("|")
        } else {
            picture
        };
        args.arg2("-flags", "+global_header")
            .arg2("-f", "tee")
            .arg(slaves);
    }
}

/// The MP3, GIF and frame-capture outputs the plan has.
fn other_outputs(args: &mut Vec<OsString>, plan: &Plan) {
    if let Some(bps) = plan.mp3_bitrate_bps {
        let branch = usize::from(plan.audio_rendition_bps().is_some());
        args.arg2("-map", format!("[a{branch}]"))
            .arg2("-c:a", "libmp3lame")
            .arg2("-b:a", bps)
            .arg2("-ar", 44_100)
            .arg(layout::mp3());
    }
    if plan.gif.is_some() {
        args.arg2("-map", "[gif]")
            .arg2("-f", "gif")
            .arg2("-loop", 0)
            .arg(layout::gif());
    }
    if let Some(fr) = &plan.frames {
        args.arg2("-map", "[frames]")
            .arg2("-fps_mode", "passthrough")
            .arg2("-frames:v", fr.count)
            .arg2("-q:v", 2)
            .arg2("-start_number", 0)
            .arg(layout::frame_capture_pattern());
    }
}

/// The whole command line of the renditions job; outputs are relative to the work
/// folder ffmpeg runs in (so no output path needs escaping inside the tee muxer).
pub fn ffmpeg_args(plan: &Plan, input: &Path, settings: &EncoderSettings) -> Vec<OsString> {
    let mut args = base_args();
    args.arg2_opt(
        "-ss",
        (plan.clip.start_s > 0.0).then(|| secs(plan.clip.start_s)),
    )
    .arg2("-t", secs(plan.clip.duration_s()))
    .arg("-i")
    .arg(file_arg(input))
    .arg2("-filter_complex", filter_graph(plan));
    rendition_outputs(&mut args, plan, settings);
    other_outputs(&mut args, plan);
    args
}

/// One ffmpeg run for the promo clip, and its vertical cut where the job has one: one
/// input per window of the source (the plan's [`Plan::promo_windows`]: each seeks to
/// its in point, so only the windows are decoded), each faded in and out, scaled to
/// the largest rendition, then concatenated; H.264 + AAC, `+faststart`. The vertical
/// cut is the joined picture's 9:16 window ([`output_size`], never scaled up).
pub fn promo_args(job: &PromoJob, input: &Path, settings: &EncoderSettings) -> Vec<OsString> {
    let plan = &job.plan;
    let audio = plan.mp3_bitrate_bps.is_some();
    let fps = plan.timecode_fps();
    let top = plan.renditions.first();
    let (w, h) = top.map_or((640, 360), |r| (r.width_px, r.height_px));
    let windows = plan.promo_windows(&job.segments, job.fade_s);
    let mut args = base_args();
    let mut graph = Vec::new();
    let mut joins = String::new();
    for (i, window) in windows.iter().enumerate() {
        let (dur, fade) = (window.duration_s(), window.fade_s);
        args.arg2("-ss", secs(window.start_s))
            .arg2("-t", secs(dur))
            .arg("-i")
            .arg(file_arg(input));
        graph.push(format!(
            "[{i}:v:0]scale={w}:{h}:flags=bicubic,setsar=1,fps={fps},format=yuv420p,{}[v{i}]",
            fade_filters("fade", fade, dur - fade, fade)
        ));
        joins += &format!("[v{i}]");
        if audio {
            graph.push(format!(
                "[{i}:a:0]aformat=sample_rates=48000:channel_layouts=stereo,{}[a{i}]",
                fade_filters("afade", fade, dur - fade, fade)
            ));
            joins += &format!("[a{i}]");
        }
    }
    let concat = if job.vertical.is_some() {
        ("[joined]", "[joined_a]")
    } else {
        ("[v]", "[a]")
    };
    graph.push(format!(
        "{joins}concat=n={}:v=1:a={}{}{}",
        windows.len(),
        u8::from(audio),
        concat.0,
        if audio { concat.1 } else { "" }
    ));
    if let Some(crop) = &job.vertical {
        // The vertical cut: the joined picture split, its 9:16 window cropped and
        // scaled (never up); the sound split for both.
        let (x, y, cw, ch) = crop.pixels(w, h);
        let (ow, oh) = output_size(cw, ch);
        graph.push(format!(
            "[joined]split[v][vv0];[vv0]crop={cw}:{ch}:{x}:{y},scale={ow}:{oh}:flags=bicubic,setsar=1[vv]"
        ));
        if audio {
            graph.push("[joined_a]asplit[a][va]".into());
        }
    }
    args.arg2("-filter_complex", graph.join(";"));
    let bitrate = top.map_or(2_000_000, |r| r.video_max_bitrate_bps);
    let output = |args: &mut Vec<OsString>, video: &str, sound: &str, file: String| {
        args.arg2("-map", video);
        if audio {
            args.arg2("-map", sound)
                .arg2("-c:a", "aac")
                .arg2("-b:a", 128_000);
        }
        x264_args(args, settings, bitrate);
        args.arg2("-movflags", "+faststart").arg(file);
    };
    output(&mut args, "[v]", "[a]", layout::promo());
    if job.vertical.is_some() {
        output(&mut args, "[vv]", "[va]", layout::promo_vertical());
    }
    args
}

#[cfg(test)]
mod tests;

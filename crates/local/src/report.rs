//! `report.html`: one self-contained page (inline CSS, no scripts or fonts fetched)
//! that shows a person the cover, plays each rendition, shows the GIF, the audio, the
//! metadata and why the cover was chosen. Media are linked by relative path, so the
//! video's folder can be opened, moved or served as is.

use base64::Engine;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use vidpipe_domain::record::{OutputKind, VideoRecord};
use vidpipe_domain::time::hhmmss_mmm;
use vidpipe_domain::transcript::Transcript;

const CSS: &str = "
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{margin-bottom:.2rem} .muted{color:#666} .bad{color:#b00020}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:1rem}
figure{margin:0} video,img,audio{max-width:100%} figcaption{font-size:13px;color:#444}
table{border-collapse:collapse;width:100%;font-size:13px} td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left}
.frame.cover img{outline:4px solid #0a7d32} .frame.rejected img{opacity:.45}
.tags span{background:#eef;border-radius:4px;padding:1px 6px;margin-right:4px}
.description{white-space:pre-wrap;background:#f6f6f8;padding:.6rem .8rem;border-radius:6px}
.transcript p{margin:.2rem 0} .seek{font:12px monospace;color:#0645ad;cursor:pointer;border:0;background:none;padding:0 .4rem 0 0}
#player{width:100%;max-width:960px;background:#000}
";

/// Seeks the main player when a time is clicked; the only script on the page.
const SEEK_JS: &str = "document.addEventListener('click',function(e){var t=e.target.closest('[data-t]');\
if(!t)return;var p=document.getElementById('player');if(!p)return;p.currentTime=parseFloat(t.dataset.t);p.play();});";

/// The name, under `transcripts/<id>/`, of the English subtitles a link came with.
pub const SUBTITLES_VTT: &str = "subtitles.en.vtt";

/// What the report shows of the speech, besides the record.
pub struct SpeechView<'a> {
    /// vidpipe's own transcript, when the video was transcribed.
    pub transcript: Option<&'a Transcript>,
    /// WebVTT text, inlined into the player's caption track.
    pub captions_vtt: &'a str,
    /// Where the captions come from, told under the player.
    pub captions_source: CaptionsSource,
}

/// Which transcript the player's captions show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptionsSource {
    /// vidpipe's transcription (Whisper locally, Transcribe in the cloud).
    Transcription,
    /// The English subtitles of the page the video was downloaded from.
    LinkSubtitles,
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / 1_048_576.0)
}

fn kbps(bps: Option<u64>) -> String {
    bps.map_or("–".into(), |b| format!("{} kb/s", b / 1000))
}

/// Renders the report of a record; `rel` gives an object's path relative to the page.
pub fn render(
    record: &VideoRecord,
    rel: &dyn Fn(&str) -> String,
    speech: Option<&SpeechView<'_>>,
) -> String {
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (record.title()) " — vidpipe" }
                style { (PreEscaped(CSS)) }
            }
            body {
                (body(record, rel, speech, None))
                p.muted { "Everything above is listed with its plan in " a href="manifest.json" { "manifest.json" } "." }
                script { (PreEscaped(SEEK_JS)) }
            }
        }
    };
    page.into_string()
}

/// The report's stylesheet, for pages that show [`body`].
pub fn css() -> &'static str {
    CSS
}

/// What the report shows, without the page around it: `vidpipe serve`'s video page
/// shows it too. `hls` is the HLS master playlist's URL, given to the player as its
/// `data-hls` attribute for a script that plays it (the MP4 rendition stays its
/// source otherwise).
pub fn body(
    record: &VideoRecord,
    rel: &dyn Fn(&str) -> String,
    speech: Option<&SpeechView<'_>>,
    hls: Option<&str>,
) -> Markup {
    let cover = record.cover_key.as_deref().map(rel);
    html! {
        (heading(record))
        (destinations(record))
        (watch(record, rel, speech, cover.as_deref(), hls))
        @if let Some((sp, t)) = speech.and_then(|sp| sp.transcript.map(|t| (sp, t))) { (speech_section(record, rel, sp, t)) }
        @if let Some(c) = &cover { h2 { "Cover" } img src=(c) alt="cover" width="480"; }
        (renditions(record, rel, cover.as_deref()))
        (media(record, rel))
        (frames(record, rel))
        (outputs(record, rel))
    }
}

/// Where the video was published: each platform, its state, and its link once there.
fn destinations(record: &VideoRecord) -> Markup {
    use vidpipe_domain::destinations::state::DestinationState;
    html! {
        @if !record.destinations.is_empty() {
            h2 { "Published on" }
            ul.destinations {
                @for d in &record.destinations {
                    li data-state=(d.state_name()) {
                        strong { (d.label()) } " "
                        @match &d.state {
                            DestinationState::Done { url, .. } => { a href=(url) { (url) } }
                            _ => { (d.describe()) }
                        }
                        @for note in &d.notes { " (" (note) ")" }
                    }
                }
            }
        }
    }
}

/// Title, status, failure, description, tags, speakers and the clip.
fn heading(record: &VideoRecord) -> Markup {
    html! {
        h1 { (record.title()) }
        p.muted { "video " code { (record.id) } " · " (record.status.as_str()) " · source " code { (record.source) } }
        @if let Some(f) = &record.failure { p.bad { "Failed at " (f.stage.as_str()) ": " (f.reason) } }
        @if let Some(d) = &record.description { div.description { (d) } }
        @if !record.hashtags.is_empty() {
            p.tags { @for t in &record.hashtags { span { (t) } } }
        }
        @if let Some(s) = record.sidecar.as_ref().filter(|s| !s.speakers.is_empty() && record.description.is_none()) {
            p { "Speakers: " (s.speakers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")) }
        }
        @if let Some(p) = &record.plan {
            p.muted {
                "Clip " (hhmmss_mmm(p.clip.start_s)) " → " (hhmmss_mmm(p.clip.end_s))
                " (" (format!("{:.2}", p.clip.duration_s())) " s), fades " (format!("{:.2}", p.fades.fade_in_s)) " s in and out"
            }
            @for n in &p.notes { p.muted { "Note: " (n) } }
        }
    }
}

/// The player: the rendition of at most 720 lines (else the first), captions inlined.
fn watch(
    record: &VideoRecord,
    rel: &dyn Fn(&str) -> String,
    speech: Option<&SpeechView<'_>>,
    cover: Option<&str>,
    hls: Option<&str>,
) -> Markup {
    let main = record
        .outputs_of(OutputKind::Rendition)
        .find(|r| {
            r.height_px
                .zip(r.width_px)
                .is_some_and(|(h, w)| h.min(w) <= 720)
        })
        .or_else(|| record.outputs_of(OutputKind::Rendition).next());
    let track = speech.map(|s| {
        format!(
            "data:text/vtt;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(s.captions_vtt)
        )
    });
    html! {
        @if let Some(m) = main {
            h2 { "Watch" }
            video #player controls preload="metadata" poster=[cover] data-hls=[hls] {
                source src=(rel(&m.key)) type="video/mp4";
                @if let Some(t) = &track { track kind="captions" src=(t) srclang="en" label="English" default; }
            }
            @if let Some(s) = speech {
                p.muted { "Captions: " (match s.captions_source { CaptionsSource::Transcription => "vidpipe's transcription", CaptionsSource::LinkSubtitles => "the link's English subtitles" }) "." }
            }
        }
    }
}

/// The transcript (each sentence seeks the player) and the promo plan.
fn speech_section(
    record: &VideoRecord,
    rel: &dyn Fn(&str) -> String,
    sp: &SpeechView<'_>,
    transcript: &Transcript,
) -> Markup {
    html! {
        h2 { "Transcript" }
        @if sp.captions_source == CaptionsSource::LinkSubtitles { p.muted { "The player's captions are the link's own English subtitles; this transcript is vidpipe's." } }
        @if transcript.low_confidence { p.bad { "Low confidence: the speech may not be English, or is hard to hear. No tags were taken from it." } }
        @let sentences = transcript.sentences();
        @if sentences.is_empty() { p.muted { "No speech was found." } }
        div.transcript {
            @for s in &sentences {
                p { button.seek data-t=(format!("{:.2}", s.start_s)) { (hhmmss_mmm(s.start_s)) } (s.text) }
            }
        }
        @if let Some(promo) = record.speech.as_ref().and_then(|s| s.promo.as_ref()) {
            h2 { "Promo plan" }
            p.muted { (promo.segments.len()) (if promo.segments.len() == 1 { " segment, " } else { " segments, " }) (format!("{:.1}", promo.duration_s())) " s in all, whole sentences chosen by keyword density." }
            @for clip in record.outputs_of(OutputKind::Promo) {
                video controls preload="metadata" width="480" { source src=(rel(&clip.key)) type="video/mp4"; }
                p.muted { (rel(&clip.key)) " · " (format!("{:.1} s", clip.duration_s.unwrap_or(0.0))) " · " (mib(clip.bytes)) }
            }
            @if let Some(state) = record.promo_render.as_ref().filter(|p| p.status == vidpipe_domain::record::StageStatus::Failed) {
                p.bad { "The promo clip could not be made: " (state.detail.clone().unwrap_or_default()) }
            }
            ol { @for seg in &promo.segments {
                li { button.seek data-t=(format!("{:.2}", seg.start_s)) { (hhmmss_mmm(seg.start_s)) "–" (hhmmss_mmm(seg.end_s)) } (seg.text) }
            } }
        }
    }
}

/// The progressive MP4 (the top rung), playable, with its size and bitrate.
fn renditions(record: &VideoRecord, rel: &dyn Fn(&str) -> String, cover: Option<&str>) -> Markup {
    html! {
        @let renditions: Vec<_> = record.outputs_of(OutputKind::Rendition).collect();
        @if !renditions.is_empty() {
            h2 { "Download" }
            div.grid {
                @for r in &renditions {
                    figure {
                        video controls preload="metadata" poster=[cover] { source src=(rel(&r.key)) type="video/mp4"; }
                        figcaption {
                            b { (r.name.clone().unwrap_or_default()) } " "
                            (r.width_px.unwrap_or(0)) "×" (r.height_px.unwrap_or(0)) " · " (kbps(r.bitrate_bps)) " · " (mib(r.bytes))
                            " · " a href=(rel(&r.key)) download { "download" }
                        }
                    }
                }
            }
        }
    }
}

/// The HLS ladder, the animated preview and the audio.
fn media(record: &VideoRecord, rel: &dyn Fn(&str) -> String) -> Markup {
    html! {
        @for m in record.outputs_of(OutputKind::HlsMaster) {
            h2 { "Streaming (HLS)" }
            p { a href=(rel(&m.key)) { (rel(&m.key)) } " (master playlist): each rendition one fragmented MP4 its playlist reads by byte range" }
            ul {
                @for v in record.outputs_of(OutputKind::HlsVariant) {
                    li {
                        a href=(rel(&v.key)) { (v.name.clone().unwrap_or_default()) } " "
                        @if let (Some(w), Some(h)) = (v.width_px, v.height_px) { (w) "×" (h) " · " }
                        (kbps(v.bitrate_bps)) " · " (mib(v.bytes))
                    }
                }
            }
        }
        @for g in record.outputs_of(OutputKind::Gif) {
            h2 { "Animated preview" }
            img src=(rel(&g.key)) alt="animated preview";
            p.muted { (g.width_px.unwrap_or(0)) "×" (g.height_px.unwrap_or(0)) " · " (mib(g.bytes)) }
        }
        @for a in record.outputs_of(OutputKind::Mp3) {
            h2 { "Audio" }
            audio controls preload="none" src=(rel(&a.key)) {}
            p.muted { (kbps(a.bitrate_bps)) " · " (mib(a.bytes)) }
        }
    }
}

/// Every frame capture with its score, the cover marked.
fn frames(record: &VideoRecord, rel: &dyn Fn(&str) -> String) -> Markup {
    html! {
        @if !record.frames.is_empty() {
            h2 { "Frame captures" }
            p.muted { "Score = 0.5·sharpness + 0.25·exposure + 0.25·contrast; near-black, near-uniform and fade frames are rejected." }
            div.grid {
                @for f in &record.frames {
                    @let chosen = record.cover_key.is_some() && is_cover(record, &f.key);
                    figure.frame.cover[chosen].rejected[f.rejected.is_some()] {
                        img src=(rel(&f.key)) alt=(format!("frame at {:.1} s", f.time_s)) loading="lazy";
                        figcaption {
                            (format!("{:.1} s · score {:.3}", f.time_s, f.score))
                            @if chosen { " · cover" }
                            @if let Some(why) = &f.rejected { br; span.bad { (why) } }
                        }
                    }
                }
            }
        }
    }
}

/// The table of outputs (frame captures aside).
fn outputs(record: &VideoRecord, rel: &dyn Fn(&str) -> String) -> Markup {
    html! {
        h2 { "Outputs" }
        table {
            tr { th { "file" } th { "kind" } th { "codec" } th { "size" } th { "bitrate" } th { "duration" } th { "bytes" } }
            @for o in &record.outputs {
                @if o.kind != OutputKind::FrameCapture {
                    tr {
                        td { a href=(rel(&o.key)) { (rel(&o.key)) } }
                        td { (format!("{:?}", o.kind)) }
                        td { (o.codec) }
                        td { @if let (Some(w), Some(h)) = (o.width_px, o.height_px) { (w) "×" (h) } }
                        td { (kbps(o.bitrate_bps)) }
                        td { @if let Some(d) = o.duration_s { (format!("{d:.3} s")) } }
                        td { (o.bytes) }
                    }
                }
            }
        }
    }
}

/// Whether `frame_key` is the capture the cover was copied from: the best-scoring one
/// that was not rejected (else the best of all), as the cover stage chose it.
fn is_cover(record: &VideoRecord, frame_key: &str) -> bool {
    vidpipe_domain::cover::choose_cover(&record.frames)
        .is_some_and(|i| record.frames[i].key == frame_key)
}

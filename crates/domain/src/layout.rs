//! The one table of output names: where each output lives below its video's folder
//! (`media/<id>/`). The `keys` module makes keys of them, the ffmpeg adapter writes files
//! by them and the MediaConvert adapter sets its destinations from them, so both
//! modes leave the same files.
//!
//! MediaConvert names a file `<destination base><name modifier>.<extension>`
//! (MediaConvert User Guide, "Output file names and paths"): a stem here is that
//! base, relative to the video's folder, and [`rung_modifier`] the modifier of a
//! ladder rung (`video` + `_720p` + `.mp4` → `video_720p.mp4`).
//!
//! The ladder is billed once per rung: each rung is one single-file fragmented MP4
//! (CMAF) of its picture, `hls/video_<rung>.mp4`, that its HLS playlist addresses by
//! byte range (`EXT-X-MAP` and `EXT-X-BYTERANGE`, RFC 8216 §4.3.2.2 and §4.3.2.5);
//! the sound is one more such file, `hls/video_audio.mp4`, the playlists' audio
//! rendition (a CMAF track holds one media type, ISO/IEC 23000-19 §7.3.1, and
//! MediaConvert's CMAF group takes one per output). Progressive download is one
//! ordinary MP4 with picture and sound, of the top rung only: `video_<top>.mp4`.

/// Stem of the progressive MP4 (the top rung): `video_<rung>.mp4`.
pub const RENDITION_STEM: &str = "video";
/// Folder of the HLS playlists and their media files.
pub const HLS_DIR: &str = "hls/";
/// Stem of the HLS files: `hls/video.m3u8` (master), `hls/video_<rung>.m3u8` and
/// `hls/video_<rung>.mp4` (a rung), `hls/video_audio.m3u8` and `hls/video_audio.mp4`
/// (the audio rendition).
pub const HLS_STEM: &str = "hls/video";
/// The name of the audio rendition among the rungs (`hls/video_audio.m3u8`); a rung
/// is named by its size (`720p`), so the two never meet.
pub const AUDIO_RENDITION: &str = "audio";
/// The HLS audio group the variants name (`EXT-X-MEDIA` `GROUP-ID`, RFC 8216
/// §4.3.4.1); MediaConvert's `CmfcSettings.AudioGroupId`.
pub const HLS_AUDIO_GROUP: &str = "aac";
/// Stem of the MP3: `audio.mp3`.
pub const MP3_STEM: &str = "audio";
/// Stem of the animated GIF preview: `preview.gif`.
pub const GIF_STEM: &str = "preview";
/// Stem of the frame captures: `frames/frame.0000000.jpg`, … (MediaConvert's frame
/// capture group appends `.NNNNNNN.jpg`, seven digits from 0).
pub const FRAME_STEM: &str = "frames/frame";
/// Folder of the frame captures.
pub const FRAMES_DIR: &str = "frames/";
/// Stem of the promo clip: `promo.mp4`.
pub const PROMO_STEM: &str = "promo";
/// The vertical 9:16 cut's name modifier: `promo-vertical.mp4`.
pub const PROMO_VERTICAL_MODIFIER: &str = "-vertical";
/// The chosen cover (a copy of the best frame capture).
pub const COVER: &str = "cover.jpg";
/// Every output, measured (the `manifest` module writes it).
pub const MANIFEST: &str = "manifest.json";
/// The local report page.
pub const REPORT: &str = "report.html";
/// The black image MediaConvert's image inserter fades over (cloud).
pub const FADE_OVERLAY: &str = "fade-black.png";

/// The name modifier of a ladder rung: `_720p`.
pub fn rung_modifier(rung: &str) -> String {
    format!("_{rung}")
}
/// `video_720p.mp4`
pub fn rendition(rung: &str) -> String {
    format!("{RENDITION_STEM}{}.mp4", rung_modifier(rung))
}
/// `hls/video.m3u8`
pub fn hls_master() -> String {
    format!("{HLS_STEM}.m3u8")
}
/// `hls/video_720p.m3u8` (a rung) or `hls/video_audio.m3u8` (the audio rendition)
pub fn hls_variant(rung: &str) -> String {
    format!("{HLS_STEM}{}.m3u8", rung_modifier(rung))
}
/// The one media file a variant playlist addresses by byte range, as vidpipe's
/// ffmpeg writes it: `hls/video_720p.mp4`. (MediaConvert names its CMAF files
/// itself; players and vidpipe find them through the playlists.)
pub fn hls_media(rung: &str) -> String {
    format!("{HLS_STEM}{}.mp4", rung_modifier(rung))
}
/// `audio.mp3`
pub fn mp3() -> String {
    format!("{MP3_STEM}.mp3")
}
/// `preview.gif`
pub fn gif() -> String {
    format!("{GIF_STEM}.gif")
}
/// `promo.mp4`
pub fn promo() -> String {
    format!("{PROMO_STEM}.mp4")
}
/// `promo-vertical.mp4`
pub fn promo_vertical() -> String {
    format!("{PROMO_STEM}{PROMO_VERTICAL_MODIFIER}.mp4")
}
/// Frame capture `index` (0-based): `frames/frame.0000003.jpg`.
pub fn frame_capture(index: u32) -> String {
    format!("{FRAME_STEM}.{index:07}.jpg")
}
/// The frame captures as an ffmpeg image-sequence pattern: `frames/frame.%07d.jpg`.
pub fn frame_capture_pattern() -> String {
    format!("{FRAME_STEM}.%07d.jpg")
}
/// The 0-based index of a frame capture's file name (`frame.0000003.jpg` → 3).
pub fn frame_capture_index(file_name: &str) -> Option<u32> {
    let stem = FRAME_STEM.rsplit('/').next().unwrap_or(FRAME_STEM);
    file_name
        .strip_prefix(stem)?
        .strip_prefix('.')?
        .strip_suffix(".jpg")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_what_mediaconvert_writes_for_stem_and_modifier() {
        assert_eq!(rendition("720p"), "video_720p.mp4");
        assert_eq!(hls_master(), "hls/video.m3u8");
        assert!(HLS_STEM.starts_with(HLS_DIR) && FRAME_STEM.starts_with(FRAMES_DIR));
        assert_eq!(hls_variant("360p"), "hls/video_360p.m3u8");
        assert_eq!(hls_media("360p"), "hls/video_360p.mp4");
        assert_eq!(hls_variant(AUDIO_RENDITION), "hls/video_audio.m3u8");
        assert_eq!(mp3(), "audio.mp3");
        assert_eq!(gif(), "preview.gif");
        assert_eq!(promo(), "promo.mp4");
        assert_eq!(frame_capture(3), "frames/frame.0000003.jpg");
        assert!(frame_capture(3).starts_with(FRAMES_DIR));
        assert_eq!(frame_capture_pattern(), "frames/frame.%07d.jpg");
        assert_eq!(frame_capture_index("frame.0000003.jpg"), Some(3));
        assert_eq!(frame_capture_index("frame.x.jpg"), None);
        assert_eq!(frame_capture_index("cover.jpg"), None);
    }
}

//! What probing a source tells us, independent of the prober (ffprobe locally, an MP4
//! header parser in the cloud).

use serde::{Deserialize, Serialize};

/// The source's first video stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoStreamInfo {
    /// Coded width and height in pixels, before rotation and sample aspect ratio.
    pub width_px: u32,
    pub height_px: u32,
    /// Frames per second (average frame rate); 0 when unknown.
    pub fps: f64,
    /// Display rotation in degrees clockwise (0, 90, 180, 270), from the container's
    /// display matrix: phones record portrait video as landscape frames rotated 90°.
    #[serde(default)]
    pub rotation_deg: i32,
    /// Sample (pixel) aspect ratio as (num, den); (1, 1) for square pixels.
    #[serde(default = "square")]
    pub sample_aspect: (u32, u32),
    pub codec: String,
}

fn square() -> (u32, u32) {
    (1, 1)
}

impl VideoStreamInfo {
    /// Width and height as displayed: sample aspect ratio applied, then rotation.
    pub fn display_size_px(&self) -> (u32, u32) {
        let (num, den) = self.sample_aspect;
        let width = if num > 0 && den > 0 && num != den {
            ((self.width_px as f64) * num as f64 / den as f64).round() as u32
        } else {
            self.width_px
        };
        if self.rotation_deg.rem_euclid(180) == 90 {
            (self.height_px, width)
        } else {
            (width, self.height_px)
        }
    }
}

/// The source's first audio stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioStreamInfo {
    pub codec: String,
    pub channels: u32,
    pub sample_rate_hz: u32,
}

/// A probed source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// Container format name(s) as the prober reports them (e.g. `mov,mp4,m4a,3gp`).
    pub format: String,
    pub duration_s: f64,
    pub size_bytes: u64,
    pub video: Option<VideoStreamInfo>,
    pub audio: Option<AudioStreamInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(w: u32, h: u32, rot: i32, sar: (u32, u32)) -> VideoStreamInfo {
        VideoStreamInfo {
            width_px: w,
            height_px: h,
            fps: 25.0,
            rotation_deg: rot,
            sample_aspect: sar,
            codec: "h264".into(),
        }
    }

    #[test]
    fn display_size_applies_rotation_and_sample_aspect() {
        assert_eq!(
            stream(1920, 1080, 0, (1, 1)).display_size_px(),
            (1920, 1080)
        );
        assert_eq!(
            stream(1920, 1080, 90, (1, 1)).display_size_px(),
            (1080, 1920)
        );
        assert_eq!(
            stream(1920, 1080, -90, (1, 1)).display_size_px(),
            (1080, 1920)
        );
        assert_eq!(stream(720, 576, 0, (16, 15)).display_size_px(), (768, 576));
        assert_eq!(stream(720, 480, 0, (0, 1)).display_size_px(), (720, 480));
    }
}

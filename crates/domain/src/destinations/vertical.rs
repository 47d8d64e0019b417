//! The vertical 9:16 cut of the promo clip, for Shorts and Reels: a window of the
//! picture 9:16 in shape, as tall (or as wide) as the frame allows, centred on the
//! faces the cover stage found where it knows them, else on the frame's centre.

use serde::{Deserialize, Serialize};

/// A face's box as Rekognition gives it (`BoundingBox`: `Left`, `Top`, `Width`,
/// `Height`, each a fraction of the frame's width or height).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

/// A window of the frame, in fractions of its width and height (0–1), so each
/// adapter places it on its own pixels: ffmpeg on the scaled promo, MediaConvert on
/// the input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Crop {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Crop {
    /// The window on a `w`×`h` picture, in whole even pixels (H.264 4:2:0 wants even
    /// sizes; MediaConvert's `Rectangle` takes even values): (x, y, width, height).
    pub fn pixels(&self, w: u32, h: u32) -> (u32, u32, u32, u32) {
        let even = |v: f64| ((v / 2.0).floor() as u32) * 2;
        let width = even(self.width * w as f64).max(2).min(w - w % 2);
        let height = even(self.height * h as f64).max(2).min(h - h % 2);
        // A window that reaches the far edge stays there.
        let at = |start: f64, size: f64, px: u32, span: u32| {
            if start + size >= 1.0 - 1e-9 {
                px - span
            } else {
                even(start * px as f64).min(px - span)
            }
        };
        let x = at(self.left, self.width, w, width);
        let y = at(self.top, self.height, h, height);
        (x, y, width, height)
    }
}

/// The output size of the vertical cut for a window of `crop_w`×`crop_h` pixels:
/// 1080×1920 (what Shorts and Reels show), or the window's own size where it is
/// smaller (never upscaled), even.
pub fn output_size(crop_w: u32, crop_h: u32) -> (u32, u32) {
    let w = crop_w.min(1080) / 2 * 2;
    let h = (crop_h.min(1920).min(w * 16 / 9)) / 2 * 2;
    (w.max(2), h.max(2))
}

/// The 9:16 window of a `frame_w`×`frame_h` frame: full height and centred on the
/// faces (their boxes' middle) for a frame wider than 9:16; full width, centred the
/// same way upright, for a narrower one. Without faces, the centre.
pub fn vertical_crop(frame_w: u32, frame_h: u32, faces: &[FaceBox]) -> Crop {
    let (fw, fh) = (frame_w.max(1) as f64, frame_h.max(1) as f64);
    let centre = if faces.is_empty() {
        (0.5, 0.5)
    } else {
        let left = faces.iter().map(|f| f.left).fold(f64::INFINITY, f64::min);
        let right = faces
            .iter()
            .map(|f| f.left + f.width)
            .fold(f64::NEG_INFINITY, f64::max);
        let top = faces.iter().map(|f| f.top).fold(f64::INFINITY, f64::min);
        let bottom = faces
            .iter()
            .map(|f| f.top + f.height)
            .fold(f64::NEG_INFINITY, f64::max);
        ((left + right) / 2.0, (top + bottom) / 2.0)
    };
    let place = |size: f64, at: f64| (at - size / 2.0).clamp(0.0, 1.0 - size);
    if fw / fh >= 9.0 / 16.0 {
        let width = (fh * 9.0 / 16.0 / fw).min(1.0);
        Crop {
            left: place(width, centre.0),
            top: 0.0,
            width,
            height: 1.0,
        }
    } else {
        let height = (fw * 16.0 / 9.0 / fh).min(1.0);
        Crop {
            left: 0.0,
            top: place(height, centre.1),
            width: 1.0,
            height,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_landscape_frame_is_cut_full_height_around_the_faces_or_the_centre() {
        let centre = vertical_crop(1920, 1080, &[]);
        assert_eq!(centre.pixels(1920, 1080), (656, 0, 606, 1080));
        // A speaker on the right third.
        let face = FaceBox {
            left: 0.70,
            top: 0.2,
            width: 0.08,
            height: 0.15,
        };
        let (x, y, w, h) = vertical_crop(1920, 1080, &[face]).pixels(1920, 1080);
        assert_eq!((y, w, h), (0, 606, 1080));
        let face_mid = (0.74 * 1920.0) as u32;
        assert!(x < face_mid && face_mid < x + w, "{x}");
        assert!((x as i64 + w as i64 / 2 - face_mid as i64).abs() <= 2);
        // A face at the edge: the window stops at the frame.
        let edge = FaceBox {
            left: 0.97,
            top: 0.4,
            width: 0.03,
            height: 0.1,
        };
        assert_eq!(
            vertical_crop(1920, 1080, &[edge]).pixels(1920, 1080).0,
            1920 - 606
        );
        // Two faces: between them.
        let a = FaceBox {
            left: 0.40,
            top: 0.3,
            width: 0.05,
            height: 0.1,
        };
        let b = FaceBox {
            left: 0.55,
            top: 0.3,
            width: 0.05,
            height: 0.1,
        };
        let (x, _, w, _) = vertical_crop(1920, 1080, &[a, b]).pixels(1920, 1080);
        assert!((x + w / 2) as i64 - 960 <= 2, "{x}");
    }

    #[test]
    fn an_upright_frame_keeps_its_width_and_sizes_never_grow() {
        // 9:16 already: the whole frame.
        assert_eq!(
            vertical_crop(1080, 1920, &[]).pixels(1080, 1920),
            (0, 0, 1080, 1920)
        );
        // Narrower than 9:16 (3:8): full width, centred upright.
        let c = vertical_crop(600, 1600, &[]);
        assert_eq!(c.pixels(600, 1600), (0, 266, 600, 1066));
        assert_eq!(output_size(606, 1080), (606, 1076));
        assert_eq!(output_size(1214, 2160), (1080, 1920));
        assert_eq!(output_size(202, 360), (202, 358));
    }
}

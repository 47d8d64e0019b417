//! The movie's pictures: each frame over the basemap by its alpha channel, fitted to
//! the movie's size, with its time drawn on when asked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, RgbImage, RgbaImage};
use thiserror::Error;
use vidpipe_domain::timelapse::FrameTime;

use crate::label;

#[derive(Debug, Error)]
pub enum ComposeError {
    #[error("{path}: not a readable image: {reason}")]
    NotAnImage { path: String, reason: String },
    #[error("basemap {path}: not a readable image: {reason}")]
    Basemap { path: String, reason: String },
    #[error("frames of different sizes: {sizes} (give --size WxH to fit each into one size)")]
    MixedSizes { sizes: String },
    #[error("size {width}x{height}: {reason}")]
    BadSize {
        width: u32,
        height: u32,
        reason: String,
    },
}

/// The largest side a movie may have: H.264's level 6.2 allows 8192×4320 (ITU-T H.264
/// Table A-1, 139 264 macroblocks a frame).
pub const MAX_SIDE: u32 = 8192;

/// `(w, h)` rounded up to even numbers: 4:2:0 chroma halves both sides, so H.264 in
/// yuv420p needs them even.
pub fn even(size: (u32, u32)) -> (u32, u32) {
    (size.0 + size.0 % 2, size.1 + size.1 % 2)
}

/// The size all `frames` share, read from their headers (nothing is decoded).
///
/// # Errors
/// [`ComposeError::NotAnImage`] naming the first unreadable frame;
/// [`ComposeError::MixedSizes`] naming each size, how many frames have it and the first
/// of them.
pub fn common_size(frames: &[PathBuf]) -> Result<(u32, u32), ComposeError> {
    let mut sizes: BTreeMap<(u32, u32), (usize, &Path)> = BTreeMap::new();
    for path in frames {
        let size = image::image_dimensions(path).map_err(|e| ComposeError::NotAnImage {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        sizes.entry(size).or_insert((0, path)).0 += 1;
    }
    match sizes.len() {
        0 => Err(ComposeError::MixedSizes {
            sizes: "no frames".into(),
        }),
        1 => Ok(*sizes.keys().next().expect("one size")),
        _ => Err(ComposeError::MixedSizes {
            sizes: sizes
                .iter()
                .map(|((w, h), (n, first))| {
                    let name = first.file_name().unwrap_or_default().to_string_lossy();
                    format!("{n} at {w}x{h} (first {name})")
                })
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The size of the basemap at `path`, read from its header: a check before anything
/// is downloaded.
///
/// # Errors
/// [`ComposeError::Basemap`]: missing, or not an image vidpipe reads (PNG, JPEG).
pub fn basemap_size(path: &Path) -> Result<(u32, u32), ComposeError> {
    image::image_dimensions(path).map_err(|e| ComposeError::Basemap {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The image at `path`, decoded.
///
/// # Errors
/// [`ComposeError::NotAnImage`] naming the file.
pub fn open(path: &Path) -> Result<DynamicImage, ComposeError> {
    image::open(path).map_err(|e| ComposeError::NotAnImage {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The image in `bytes` (PNG or JPEG, told by its content), `name` naming it in errors.
///
/// # Errors
/// [`ComposeError::NotAnImage`] naming it.
pub fn decode(name: &str, bytes: &[u8]) -> Result<DynamicImage, ComposeError> {
    image::load_from_memory(bytes).map_err(|e| ComposeError::NotAnImage {
        path: name.to_string(),
        reason: e.to_string(),
    })
}

/// Makes the movie's pictures, all `width`×`height` (even).
pub struct Composer {
    width: u32,
    height: u32,
    /// The basemap scaled to the movie's size, or black.
    base: RgbImage,
    label: bool,
}

impl Composer {
    /// A composer for pictures of `size` (rounded up to even), over the basemap image
    /// at `basemap` (scaled to the size) or black, labelled with each step's time when
    /// `label`.
    ///
    /// # Errors
    /// [`ComposeError::Basemap`] when the basemap cannot be read as an image;
    /// [`ComposeError::BadSize`] for a side of 0 or over [`MAX_SIDE`].
    pub fn new(
        size: (u32, u32),
        basemap: Option<&Path>,
        label: bool,
    ) -> Result<Self, ComposeError> {
        let image = match basemap {
            Some(path) => Some(image::open(path).map_err(|e| ComposeError::Basemap {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        Self::with_basemap_image(size, image, label)
    }

    /// [`Composer::new`] with the basemap already decoded.
    ///
    /// # Errors
    /// [`ComposeError::BadSize`] for a side of 0 or over [`MAX_SIDE`].
    pub fn with_basemap_image(
        size: (u32, u32),
        basemap: Option<DynamicImage>,
        label: bool,
    ) -> Result<Self, ComposeError> {
        let (width, height) = even(size);
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(ComposeError::BadSize {
                width,
                height,
                reason: format!("each side must be 1 to {MAX_SIDE} pixels"),
            });
        }
        let base = match basemap {
            Some(image) => imageops::resize(&image.to_rgb8(), width, height, FilterType::Triangle),
            None => RgbImage::new(width, height),
        };
        Ok(Composer {
            width,
            height,
            base,
            label,
        })
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The frame at `path` over the basemap ([`Composer::picture`]).
    ///
    /// # Errors
    /// [`ComposeError::NotAnImage`] naming the file: unreadable, or a corrupt image.
    pub fn frame(&self, path: &Path, time: FrameTime) -> Result<RgbImage, ComposeError> {
        Ok(self.picture(open(path)?, time))
    }

    /// A decoded frame over the basemap. A frame of the movie's size (or one pixel
    /// short, from an odd side) is placed at the top left; any other is scaled to fit,
    /// keeping its aspect, and centred.
    pub fn picture(&self, decoded: DynamicImage, time: FrameTime) -> RgbImage {
        let (w, h) = (decoded.width(), decoded.height());
        let mut out = if (w, h) == (self.width, self.height) && !decoded.color().has_alpha() {
            // Opaque and the right size: the basemap would not show anywhere.
            decoded.into_rgb8()
        } else {
            let mut out = self.base.clone();
            let rgba = fitted(decoded, self.width, self.height);
            let x = (self.width - rgba.width()) / 2;
            let y = (self.height - rgba.height()) / 2;
            over(&mut out, &rgba, x, y);
            out
        };
        self.labelled(&mut out, time);
        out
    }

    /// A black picture (`--fill blank`).
    pub fn blank(&self, time: FrameTime) -> RgbImage {
        let mut out = RgbImage::new(self.width, self.height);
        self.labelled(&mut out, time);
        out
    }

    /// The basemap alone (`--fill basemap`).
    pub fn basemap(&self, time: FrameTime) -> RgbImage {
        let mut out = self.base.clone();
        self.labelled(&mut out, time);
        out
    }

    fn labelled(&self, out: &mut RgbImage, time: FrameTime) {
        if self.label {
            label::draw(out, &time.format("%Y-%m-%d %H:%M UTC").to_string());
        }
    }
}

/// `image` as RGBA, as it is when it fits in `width`×`height` with at most one pixel
/// to spare on a side, else scaled to fit keeping its aspect.
fn fitted(image: DynamicImage, width: u32, height: u32) -> RgbaImage {
    let (w, h) = (image.width(), image.height());
    let padded_only = w <= width && h <= height && width - w <= 1 && height - h <= 1;
    let rgba = image.into_rgba8();
    if padded_only {
        return rgba;
    }
    let scale = f64::min(
        f64::from(width) / f64::from(w),
        f64::from(height) / f64::from(h),
    );
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, width);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, height);
    imageops::resize(&rgba, nw, nh, FilterType::CatmullRom)
}

/// Composites `src` over `dst` at (`x`, `y`) by `src`'s alpha ("source over", straight
/// alpha): `out = (src·a + dst·(255 − a)) / 255`, rounded.
pub fn over(dst: &mut RgbImage, src: &RgbaImage, x: u32, y: u32) {
    let (dw, sw) = (dst.width() as usize, src.width() as usize);
    let rows = src.height().min(dst.height().saturating_sub(y)) as usize;
    let cols = sw.min(dw.saturating_sub(x as usize));
    let (d, s) = (dst.as_mut(), src.as_raw());
    for row in 0..rows {
        let d_start = ((y as usize + row) * dw + x as usize) * 3;
        let s_start = row * sw * 4;
        let d_row = &mut d[d_start..d_start + cols * 3];
        let s_row = &s[s_start..s_start + cols * 4];
        for (dp, sp) in d_row.chunks_exact_mut(3).zip(s_row.chunks_exact(4)) {
            let a = u32::from(sp[3]);
            match a {
                0 => {}
                255 => dp.copy_from_slice(&sp[..3]),
                _ => {
                    for c in 0..3 {
                        let v = u32::from(sp[c]) * a + u32::from(dp[c]) * (255 - a) + 127;
                        dp[c] = (v / 255) as u8;
                    }
                }
            }
        }
    }
}

//! A frame's time, drawn in its bottom-left corner: white 8×8 bitmap glyphs (font8x8,
//! public domain) scaled to the picture, on a black box so it reads over any data.

use font8x8::{UnicodeFonts, BASIC_FONTS};
use image::{Rgb, RgbImage};

/// Glyph scale for a picture `height` pixels tall: a line of text about 1/20 of it
/// (8 px at 160 px and below, 48 px at 1024).
pub fn scale_for(height: u32) -> u32 {
    (height / 160).max(1)
}

/// Draws `text` (ASCII; other characters are left blank) at the bottom left of
/// `image`, clipped to it.
pub fn draw(image: &mut RgbImage, text: &str) {
    let s = scale_for(image.height());
    let (w, h) = (image.width(), image.height());
    let box_w = (text.chars().count() as u32 * 8 + 4) * s;
    let box_h = 12 * s;
    let (x0, y0) = (s * 2, h.saturating_sub(box_h + s * 2));
    for y in y0..(y0 + box_h).min(h) {
        for x in x0..(x0 + box_w).min(w) {
            image.put_pixel(x, y, Rgb([0, 0, 0]));
        }
    }
    for (i, c) in text.chars().enumerate() {
        let Some(glyph) = BASIC_FONTS.get(c) else {
            continue;
        };
        let gx = x0 + (2 + i as u32 * 8) * s;
        let gy = y0 + 2 * s;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8u32 {
                if bits >> col & 1 == 0 {
                    continue;
                }
                for dy in 0..s {
                    for dx in 0..s {
                        let (x, y) = (gx + col * s + dx, gy + row as u32 * s + dy);
                        if x < w && y < h {
                            image.put_pixel(x, y, Rgb([255, 255, 255]));
                        }
                    }
                }
            }
        }
    }
}

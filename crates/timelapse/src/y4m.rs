//! YUV4MPEG2 (Y4M): uncompressed 4:2:0 video in a stream: a header line, then `FRAME`
//! and the Y, U and V planes of each picture. ffmpeg reads it from a pipe
//! (`-f yuv4mpegpipe`) and MediaConvert reads it as an input container, so one writer
//! feeds both modes' encoders.
//!
//! Colours: BT.601 in limited ("TV") range, the matrix and range ffmpeg assumes for
//! untagged 4:2:0 of this kind (and uses when it converts PNG to yuv420p itself).

use std::io::{self, Write};

use image::RgbImage;

/// The bytes of one frame's planes at `width`×`height` (both even): Y at full size, U
/// and V at half size each way.
pub fn planes_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * (w / 2) * (h / 2)
}

/// The bytes of a whole Y4M stream: `header_len` plus, for each of `frames`, the
/// `FRAME\n` marker and the planes.
pub fn stream_len(width: u32, height: u32, fps: u32, frames: u64) -> u64 {
    header(width, height, fps).len() as u64 + frames * (6 + planes_len(width, height) as u64)
}

fn header(width: u32, height: u32, fps: u32) -> String {
    format!("YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg XCOLORRANGE=LIMITED\n")
}

/// Converts an RGB picture (even sides) into `planes` (cleared first): BT.601 limited
/// range, chroma the mean of each 2×2 block.
pub fn rgb_to_yuv420(rgb: &RgbImage, planes: &mut Vec<u8>) {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let (cw, ch) = (w / 2, h / 2);
    planes.clear();
    planes.resize(planes_len(rgb.width(), rgb.height()), 0);
    let (y_plane, chroma) = planes.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut(cw * ch);
    let px = rgb.as_raw();
    for (row, y_row) in y_plane.chunks_exact_mut(w).enumerate() {
        let src = &px[row * w * 3..(row + 1) * w * 3];
        for (y, p) in y_row.iter_mut().zip(src.chunks_exact(3)) {
            let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
            *y = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
        }
    }
    for cy in 0..ch {
        let top = &px[(2 * cy) * w * 3..(2 * cy + 1) * w * 3];
        let bottom = &px[(2 * cy + 1) * w * 3..(2 * cy + 2) * w * 3];
        for cx in 0..cw {
            let i = cx * 6;
            let sum = |c: usize| {
                i32::from(top[i + c])
                    + i32::from(top[i + 3 + c])
                    + i32::from(bottom[i + c])
                    + i32::from(bottom[i + 3 + c])
            };
            let (r, g, b) = ((sum(0) + 2) / 4, (sum(1) + 2) / 4, (sum(2) + 2) / 4);
            u_plane[cy * cw + cx] = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8;
            v_plane[cy * cw + cx] = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8;
        }
    }
}

/// Writes a Y4M stream: the header at [`Y4mWriter::new`], then one frame a call.
pub struct Y4mWriter<W: Write> {
    out: W,
    width: u32,
    height: u32,
    frames: u64,
}

impl<W: Write> Y4mWriter<W> {
    /// # Errors
    /// The header could not be written; `InvalidInput` for an odd or zero side.
    pub fn new(mut out: W, width: u32, height: u32, fps: u32) -> io::Result<Self> {
        if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 || fps == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("Y4M {width}x{height} at {fps} fps: sides must be even, and not 0"),
            ));
        }
        out.write_all(header(width, height, fps).as_bytes())?;
        Ok(Y4mWriter {
            out,
            width,
            height,
            frames: 0,
        })
    }

    /// Writes one frame's planes (from [`rgb_to_yuv420`] at the stream's size).
    ///
    /// # Errors
    /// The writer's; `InvalidInput` when `planes` is not one frame of this size.
    pub fn write_planes(&mut self, planes: &[u8]) -> io::Result<()> {
        if planes.len() != planes_len(self.width, self.height) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} bytes are not one {}x{} frame",
                    planes.len(),
                    self.width,
                    self.height
                ),
            ));
        }
        self.out.write_all(b"FRAME\n")?;
        self.out.write_all(planes)?;
        self.frames += 1;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes and returns the writer.
    ///
    /// # Errors
    /// The flush's.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

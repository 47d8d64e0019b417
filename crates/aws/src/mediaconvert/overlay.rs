//! The fades as image overlays: MediaConvert has no video fade, so a full-frame black
//! PNG is laid over the input by the image inserter, opaque at the in point and
//! fading out over the fade, and fading in over the last seconds to opaque at the out
//! point. Overlay times are input timecodes, like the clipping.

use aws_sdk_mediaconvert::types::InsertableImage;
use vidpipe_domain::plan::SourceWindow;
use vidpipe_domain::time::timecode_hhmmssff;
use vidpipe_domain::PortError;

/// A black, opaque PNG of `width` × `height` pixels.
///
/// # Errors
/// [`PortError::Failed`] if the encoder refuses the size.
pub fn black_png(width: u32, height: u32) -> Result<Vec<u8>, PortError> {
    let image = image::RgbImage::new(width.max(1), height.max(1));
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| PortError::Failed(format!("black {width}x{height} PNG: {e}")))?;
    Ok(bytes)
}

/// Milliseconds, as MediaConvert's fade and duration fields take them.
pub(super) fn ms(seconds: f64) -> i32 {
    (seconds * 1000.0).round().clamp(0.0, i32::MAX as f64) as i32
}

/// The black image laid over the input for the fades: where it is, and the input's
/// frame rate (for timecodes) and size (the overlay covers the whole frame).
pub(super) struct BlackOverlay<'a> {
    pub image_uri: &'a str,
    pub fps: f64,
    pub size: (u32, u32),
}

impl BlackOverlay<'_> {
    /// One overlay on `layer`: opaque from `start_s` (input seconds) for `hold_s`,
    /// reaching or leaving full opacity over `fade_in_s` / `fade_out_s`.
    fn at(
        &self,
        layer: i32,
        start_s: f64,
        fade_in_s: f64,
        hold_s: f64,
        fade_out_s: f64,
    ) -> InsertableImage {
        InsertableImage::builder()
            .image_inserter_input(self.image_uri)
            .layer(layer)
            .opacity(100)
            .image_x(0)
            .image_y(0)
            .width(self.size.0 as i32)
            .height(self.size.1 as i32)
            .start_time(timecode_hhmmssff(start_s, self.fps))
            .fade_in(ms(fade_in_s))
            // Duration includes the fade-in but not the fade-out (API Reference,
            // InsertableImage).
            .duration(ms(fade_in_s + hold_s))
            .fade_out(ms(fade_out_s))
            .build()
    }

    /// The fades of `window` (input seconds) as two overlays, on `first_layer` and
    /// the one above it: `fade_in_s` from black at its start, `fade_out_s` to black at
    /// its end.
    pub fn fades(
        &self,
        first_layer: i32,
        window: SourceWindow,
        fade_in_s: f64,
        fade_out_s: f64,
    ) -> Vec<InsertableImage> {
        let frame_s = 1.0 / self.fps;
        let mut images = Vec::new();
        if fade_in_s > 0.0 {
            // Black on the first frame, then transparent by the end of the fade.
            images.push(self.at(
                first_layer,
                window.start_s,
                0.0,
                frame_s,
                (fade_in_s - frame_s).max(0.0),
            ));
        }
        if fade_out_s > 0.0 {
            images.push(self.at(
                first_layer + 1,
                window.end_s - fade_out_s,
                fade_out_s,
                frame_s,
                0.0,
            ));
        }
        images
    }
}

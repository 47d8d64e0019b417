//! The time-lapse function's work without the network: the frames of a folder decoded,
//! composited over a basemap and converted to Y4M, written nowhere. Prints the
//! milliseconds per frame and the peak of what it held, for the README's statement of
//! how many frames one Lambda invocation can take.
//!
//! Usage: compose FRAMES_DIR [BASEMAP] [WxH]

use std::time::Instant;

use vidpipe_domain::timelapse::{select, Fill, Period};
use vidpipe_timelapse::compose::Composer;
use vidpipe_timelapse::{folder_loader, local_frames, write_movie};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("FRAMES_DIR"));
    let basemap = args.next().map(std::path::PathBuf::from);
    let size = args.next().map(|s| {
        let (w, h) = s.split_once('x').expect("WxH");
        (w.parse::<u32>().expect("W"), h.parse::<u32>().expect("H"))
    });
    let names = local_frames(&dir).expect("the folder");
    let selection =
        select(&names, None, Period::parse("P100Y").unwrap(), None, None).expect("frames");
    let first = image::image_dimensions(dir.join(&selection.frames[0].name)).expect("a frame");
    let composer =
        Composer::new(size.unwrap_or(first), basemap.as_deref(), true).expect("composer");
    let steps = selection.steps(Fill::Hold);
    let load = folder_loader(&dir);
    let start = Instant::now();
    let n = write_movie(&composer, &load, &selection, &steps, 30, std::io::sink()).expect("movie");
    let s = start.elapsed().as_secs_f64();
    let (w, h) = composer.size();
    println!(
        "{n} frames at {w}x{h}: {:.1} ms a frame, {:.1} s in all, {:.1} MB of Y4M",
        1000.0 * s / n as f64,
        s,
        vidpipe_timelapse::y4m::stream_len(w, h, 30, n) as f64 / 1e6
    );
}

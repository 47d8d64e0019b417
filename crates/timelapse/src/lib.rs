//! Time-lapse movies from image sequences, for both modes: frames synced from an FTP
//! server ([`ftp`]), each composited over a basemap and labelled ([`compose`],
//! [`label`]), and the movie's steps written as one Y4M stream ([`y4m`]) for an
//! encoder: ffmpeg on this machine, MediaConvert in the cloud. Which frames make the
//! movie, the gaps and the fill are the domain's (`vidpipe_domain::timelapse`).

pub mod compose;
pub mod ftp;
pub mod label;
#[cfg(feature = "test-util")]
pub mod test_ftp;
pub mod y4m;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use image::DynamicImage;
use thiserror::Error;
use vidpipe_domain::timelapse::{Frame, Selection, Step};

pub use compose::{ComposeError, Composer};

/// Frame files by their extension: the image formats vidpipe decodes (PNG, JPEG).
pub const FRAME_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg"];

/// Whether `name` is a frame file by its extension (any case).
pub fn is_frame_name(name: &str) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| FRAME_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The frame files in `dir` (not hidden, by extension), sorted by name.
///
/// # Errors
/// The folder cannot be read.
pub fn local_frames(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && is_frame_name(&name) && entry.file_type()?.is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

#[derive(Debug, Error)]
pub enum MovieError {
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error("writing the movie's frames: {0}")]
    Write(#[from] std::io::Error),
}

/// Reads and decodes a frame of the selection.
pub type FrameLoader<'a> = dyn Fn(&Frame) -> Result<DynamicImage, ComposeError> + Sync + 'a;

/// The frames of a local folder.
pub fn folder_loader(
    dir: &Path,
) -> impl Fn(&Frame) -> Result<DynamicImage, ComposeError> + Sync + '_ {
    move |frame: &Frame| compose::open(&dir.join(&frame.name))
}

/// Writes `steps` as a Y4M stream at `fps` to `out`: each step's picture made by
/// `composer` from the frames of `selection`, read by `load`. Pictures are made by one
/// worker thread per core (at most four), each one picture ahead, while this thread
/// writes them in order; a held frame is written again, not made again. Memory: about
/// three pictures per worker.
///
/// # Errors
/// The first frame that cannot be read (naming it), or the writer's error; the
/// stream is then incomplete and should be discarded.
pub fn write_movie<W: Write>(
    composer: &Composer,
    load: &FrameLoader<'_>,
    selection: &Selection,
    steps: &[Step],
    fps: u32,
    out: W,
) -> Result<u64, MovieError> {
    let (width, height) = composer.size();
    let mut writer = y4m::Y4mWriter::new(out, width, height, fps)?;
    // Each picture once, with how many steps show it.
    let mut units: Vec<(&Step, u64)> = Vec::new();
    for step in steps {
        match (units.last_mut(), step) {
            (Some((Step::Frame(i) | Step::Held(i), n)), Step::Held(j)) if i == j => *n += 1,
            _ => units.push((step, 1)),
        }
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(units.len().max(1));
    let make = |step: &Step| -> Result<Vec<u8>, ComposeError> {
        let rgb = match step {
            Step::Frame(i) | Step::Held(i) => {
                let frame = &selection.frames[*i];
                composer.picture(load(frame)?, frame.time)
            }
            Step::Blank(t) => composer.blank(*t),
            Step::Basemap(t) => composer.basemap(*t),
        };
        let mut planes = Vec::new();
        y4m::rgb_to_yuv420(&rgb, &mut planes);
        Ok(planes)
    };
    std::thread::scope(|scope| {
        let mut inboxes = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel::<Result<Vec<u8>, ComposeError>>(1);
            inboxes.push(rx);
            let (units, make) = (&units, &make);
            scope.spawn(move || {
                for (step, _) in units.iter().skip(w).step_by(workers) {
                    let picture = make(step);
                    let failed = picture.is_err();
                    if tx.send(picture).is_err() || failed {
                        return;
                    }
                }
            });
        }
        for (u, (_, repeats)) in units.iter().enumerate() {
            let Ok(picture) = inboxes[u % workers].recv() else {
                break;
            };
            let planes = picture?;
            for _ in 0..*repeats {
                writer.write_planes(&planes)?;
            }
        }
        Ok::<(), MovieError>(())
    })?;
    let frames = writer.frames();
    writer.finish()?;
    Ok(frames)
}

/// The paths of the selected frames in `dir`.
pub fn frame_paths(dir: &Path, selection: &Selection) -> Vec<PathBuf> {
    selection.frames.iter().map(|f| dir.join(&f.name)).collect()
}

#[cfg(test)]
mod tests;

//! Time-lapse movies from image sequences, for both modes: frames synced from an FTP
//! server ([`ftp`]), each composited over a basemap and labelled ([`compose`],
//! [`label`]), and the movie's steps written as one Y4M stream ([`y4m`]) for an
//! encoder: ffmpeg on this machine, MediaConvert in the cloud. Which frames make the
//! movie, the gaps and the fill are the domain's (`vidpipe_domain::timelapse`).

pub mod compose;
pub mod ftp;
pub mod label;
pub mod y4m;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

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
/// `composer` from the frames of `selection`, read by `load`. Pictures are made on a
/// second thread while the first writes, two ahead at most (memory: about four
/// pictures). Returns the frames written.
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
    let (tx, rx) = sync_channel::<Result<Arc<Vec<u8>>, ComposeError>>(2);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut last: Option<(usize, Arc<Vec<u8>>)> = None;
            for step in steps {
                let picture = match step {
                    Step::Frame(i) | Step::Held(i) => {
                        if let Some((_, planes)) = last.as_ref().filter(|(n, _)| n == i) {
                            Ok(Arc::clone(planes))
                        } else {
                            let frame = &selection.frames[*i];
                            load(frame)
                                .map(|image| to_planes(&composer.picture(image, frame.time)))
                                .inspect(|planes| last = Some((*i, Arc::clone(planes))))
                        }
                    }
                    Step::Blank(t) => Ok(to_planes(&composer.blank(*t))),
                    Step::Basemap(t) => Ok(to_planes(&composer.basemap(*t))),
                };
                let failed = picture.is_err();
                if tx.send(picture).is_err() || failed {
                    return;
                }
            }
        });
        for picture in rx {
            writer.write_planes(&picture?)?;
        }
        Ok::<(), MovieError>(())
    })?;
    let frames = writer.frames();
    writer.finish()?;
    Ok(frames)
}

fn to_planes(rgb: &image::RgbImage) -> Arc<Vec<u8>> {
    let mut planes = Vec::new();
    y4m::rgb_to_yuv420(rgb, &mut planes);
    Arc::new(planes)
}

/// The paths of the selected frames in `dir`.
pub fn frame_paths(dir: &Path, selection: &Selection) -> Vec<PathBuf> {
    selection.frames.iter().map(|f| dir.join(&f.name)).collect()
}

#[cfg(test)]
mod tests;

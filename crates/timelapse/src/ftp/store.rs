//! Where synced frames are kept, and whether one there is the server's file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::SyncError;

/// A file in the server's listing: its size and modification time, when the server
/// gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    pub size: Option<u64>,
    pub modified: Option<SystemTime>,
}

/// A frame a [`FrameStore`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub size: u64,
    /// The server's time it was given, or when it was stored.
    pub modified: Option<SystemTime>,
}

impl Held {
    /// Whether this is the server's file: the same size, and stored at or after the
    /// server's modification time (to the second), when the server gives one.
    pub fn is(&self, remote: &Remote) -> bool {
        let same_size = remote.size.is_none_or(|n| n == self.size);
        let not_older = match (remote.modified, self.modified) {
            (Some(r), Some(h)) => seconds(h) >= seconds(r),
            (None, _) => true,
            (Some(_), None) => false,
        };
        same_size && not_older
    }
}

/// Where synced frames are kept: a folder here ([`FolderStore`]), or the bucket in the
/// cloud. Each call may block.
pub trait FrameStore {
    /// Where, for messages.
    fn describe(&self) -> String;
    /// The files held, by name.
    ///
    /// # Errors
    /// The store cannot be listed.
    fn held(&mut self) -> Result<BTreeMap<String, Held>, SyncError>;
    /// Stores what `reader` yields as `name`, only when it is whole: `remote.size`
    /// bytes when that is known (else [`SyncError::Transfer`], nothing stored).
    /// Returns the bytes stored.
    ///
    /// # Errors
    /// [`SyncError::Transfer`] when the reader fails or falls short;
    /// [`SyncError::Local`] when the store cannot be written.
    fn receive(
        &mut self,
        name: &str,
        remote: &Remote,
        reader: &mut dyn Read,
    ) -> Result<u64, SyncError>;
    /// Removes `name`.
    ///
    /// # Errors
    /// [`SyncError::Local`].
    fn remove(&mut self, name: &str) -> Result<(), SyncError>;
}

/// Frames in a local folder, each given the server's modification time.
pub struct FolderStore {
    pub dir: PathBuf,
    /// When set, the folder is not created (a dry run).
    pub read_only: bool,
}

impl FolderStore {
    fn local(&self, path: &Path, e: std::io::Error) -> SyncError {
        SyncError::Local {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

impl FrameStore for FolderStore {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    /// The folder's files (none when it does not exist yet). Downloads left unfinished
    /// (`.NAME.part`) are removed on the way.
    fn held(&mut self) -> Result<BTreeMap<String, Held>, SyncError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.local(&self.dir, e)),
        };
        let mut held = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| self.local(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata().map_err(|e| self.local(&entry.path(), e))?;
            if !meta.is_file() {
                continue;
            }
            if name.starts_with('.') && name.ends_with(".part") {
                if !self.read_only {
                    let _ = std::fs::remove_file(entry.path());
                }
                continue;
            }
            let h = Held {
                size: meta.len(),
                modified: meta.modified().ok(),
            };
            held.insert(name, h);
        }
        Ok(held)
    }

    /// Through a hidden `.NAME.part` file, moved into place when whole.
    fn receive(
        &mut self,
        name: &str,
        remote: &Remote,
        reader: &mut dyn Read,
    ) -> Result<u64, SyncError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.local(&self.dir, e))?;
        let part = self.dir.join(format!(".{name}.part"));
        let mut file = File::create(&part).map_err(|e| self.local(&part, e))?;
        let copied = std::io::copy(reader, &mut file);
        let fail = |e: SyncError| {
            let _ = std::fs::remove_file(&part);
            Err(e)
        };
        let bytes = match copied {
            Ok(n) => n,
            Err(e) => {
                return fail(SyncError::Transfer {
                    server: name.to_string(),
                    reason: e.to_string(),
                })
            }
        };
        if let Some(size) = remote.size.filter(|&s| s != bytes) {
            return fail(SyncError::Transfer {
                server: name.to_string(),
                reason: format!("{bytes} of {size} bytes arrived"),
            });
        }
        if let Some(t) = remote.modified {
            if let Err(e) = file.set_modified(t) {
                return fail(self.local(&part, e));
            }
        }
        drop(file);
        let path = self.dir.join(name);
        std::fs::rename(&part, &path).map_err(|e| self.local(&path, e))?;
        Ok(bytes)
    }

    fn remove(&mut self, name: &str) -> Result<(), SyncError> {
        let path = self.dir.join(name);
        std::fs::remove_file(&path).map_err(|e| self.local(&path, e))
    }
}

fn seconds(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

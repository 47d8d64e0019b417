//! The local object store: a directory standing in for the S3 bucket.
//!
//! Key → path: `uploads/<name>` → `<root>/uploads/<name>`; `media/<id>/<rest>` →
//! `<root>/<id>/<rest>`; `transcripts/<id>/<rest>` → `<root>/<id>/transcripts/<rest>`.
//! So everything one video produces is in `<root>/<id>/`. Other keys are refused.
//! Every write is announced as an object-created event (S3 notifications), which the
//! router collects through [`CreatedObjects`].

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use vidpipe_domain::events::ObjectCreated;
use vidpipe_domain::keys::{self, MEDIA_PREFIX, TRANSCRIPTS_PREFIX, UPLOADS_PREFIX};
use vidpipe_domain::ports::{ObjectInfo, ObjectReader, ObjectWriter};
use vidpipe_domain::router::CreatedObjects;
use vidpipe_domain::PortError;

/// The bucket name local events carry.
pub const LOCAL_BUCKET: &str = "local";

pub struct LocalStore {
    root: PathBuf,
    created: Mutex<Vec<ObjectCreated>>,
}

/// Maps an I/O error on `what` to a port error.
pub(crate) fn io_error(what: &Path, e: std::io::Error) -> PortError {
    match e.kind() {
        std::io::ErrorKind::NotFound => PortError::NotFound(what.display().to_string()),
        _ => PortError::Failed(format!("{}: {e}", what.display())),
    }
}

impl LocalStore {
    /// A store rooted at `root` (created if missing; kept as an absolute path, since
    /// ffmpeg runs inside the video's folder).
    ///
    /// # Errors
    /// [`PortError::Failed`] when the directory cannot be created.
    pub fn open(root: &Path) -> Result<LocalStore, PortError> {
        fs::create_dir_all(root.join("uploads")).map_err(|e| io_error(root, e))?;
        let root = fs::canonicalize(root).map_err(|e| io_error(root, e))?;
        Ok(LocalStore {
            root,
            created: Mutex::new(Vec::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path a key is stored at.
    ///
    /// # Errors
    /// [`PortError::Invalid`] for a key outside the layout or with `..`, a leading `/`
    /// or a backslash in it.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, PortError> {
        if let Some(reason) = keys::unsafe_key_reason(key) {
            return Err(PortError::Invalid(format!("{key}: {reason}")));
        }
        if let Some(rest) = key.strip_prefix(UPLOADS_PREFIX) {
            return Ok(self.root.join("uploads").join(rest));
        }
        let id = keys::video_id_in(key)
            .ok_or_else(|| PortError::Invalid(format!("{key}: not a key of the local layout")))?;
        let media = format!("{MEDIA_PREFIX}{id}/");
        let transcripts = format!("{TRANSCRIPTS_PREFIX}{id}/");
        if let Some(rest) = key.strip_prefix(&media) {
            Ok(self.root.join(id.as_str()).join(rest))
        } else if let Some(rest) = key.strip_prefix(&transcripts) {
            Ok(self.root.join(id.as_str()).join("transcripts").join(rest))
        } else {
            Err(PortError::Invalid(format!(
                "{key}: not a key of the local layout"
            )))
        }
    }

    /// Removes the files of every plan of the video but `current`'s: locally one run
    /// holds a video at a time (its lease), so once a replan's job starts nothing
    /// reads the superseded plans' files, and keeping them would keep a full set of
    /// renditions per forced run. The link's own subtitles (a file of the video, not
    /// of a plan) stay. Nothing is removed for generation 0.
    ///
    /// # Errors
    /// [`PortError::Failed`] when a file or folder cannot be removed.
    pub fn remove_superseded(&self, current: &keys::PlanKeys) -> Result<(), PortError> {
        if current.generation == 0 {
            return Ok(());
        }
        let own = format!("g{}", current.generation);
        let media = self.video_dir(&current.id);
        let transcripts = media.join("transcripts");
        let keep_media =
            |name: &str| name == own || name == "transcripts" || name.starts_with(".work");
        let keep_transcripts = |name: &str| name == own || name.starts_with("subtitles");
        for (dir, keep) in [
            (&media, &keep_media as &dyn Fn(&str) -> bool),
            (&transcripts, &keep_transcripts),
        ] {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if keep(&entry.file_name().to_string_lossy()) {
                    continue;
                }
                let path = entry.path();
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(|e| {
                    PortError::Failed(format!("cannot remove {}: {e}", path.display()))
                })?;
            }
        }
        Ok(())
    }

    /// The directory that holds everything video `id` produced.
    pub fn video_dir(&self, id: &vidpipe_domain::VideoId) -> PathBuf {
        self.root.join(id.as_str())
    }

    /// Announces objects written by something other than [`ObjectWriter::put`]
    /// (ffmpeg writes its outputs itself), as S3 would when they land.
    pub fn announce(&self, key: &str, size_bytes: u64) {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(ObjectCreated {
                bucket: LOCAL_BUCKET.into(),
                key: key.to_string(),
                size_bytes,
                etag: None,
                version_id: None,
            });
    }

    /// "Uploads" a local file: links it at `uploads/<file name>` (no copy) and returns
    /// the object-created event S3 would send, with the content's SHA-256 as ETag (the
    /// local video id comes from it). A path that does not exist still gives an event
    /// (size 0, no ETag) so that ingest records the failure.
    ///
    /// # Errors
    /// [`PortError::Invalid`] when the path has no file name;
    /// [`PortError::Failed`] when reading or linking fails.
    pub fn upload_file(&self, path: &Path) -> Result<ObjectCreated, PortError> {
        self.upload_file_hashed(path, None)
    }

    /// [`upload_file`](Self::upload_file) of a file whose SHA-256 (hex) the caller has
    /// already taken (a web upload hashes as it receives): it is not read again.
    ///
    /// # Errors
    /// As [`upload_file`](Self::upload_file).
    pub fn upload_file_hashed(
        &self,
        path: &Path,
        sha256_hex: Option<&str>,
    ) -> Result<ObjectCreated, PortError> {
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            PortError::Invalid(format!("{}: no usable file name", path.display()))
        })?;
        let key = format!("{UPLOADS_PREFIX}{name}");
        let link = self.path_of(&key)?;
        match fs::symlink_metadata(&link) {
            Ok(_) => fs::remove_file(&link).map_err(|e| io_error(&link, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&link, e)),
        }
        if !path.exists() {
            return Ok(ObjectCreated {
                bucket: LOCAL_BUCKET.into(),
                key,
                size_bytes: 0,
                etag: None,
                version_id: None,
            });
        }
        let absolute = fs::canonicalize(path).map_err(|e| io_error(path, e))?;
        if absolute.is_dir() {
            return Err(PortError::Invalid(format!(
                "{}: is a directory, not a video file",
                path.display()
            )));
        }
        std::os::unix::fs::symlink(&absolute, &link).map_err(|e| io_error(&link, e))?;
        let (sha, size) = match sha256_hex {
            Some(sha) => {
                let size = fs::metadata(&absolute)
                    .map_err(|e| io_error(&absolute, e))?
                    .len();
                (sha.to_string(), size)
            }
            None => sha256_file(&absolute)?,
        };
        Ok(ObjectCreated {
            bucket: LOCAL_BUCKET.into(),
            key,
            size_bytes: size,
            etag: Some(sha),
            version_id: None,
        })
    }
}

/// SHA-256 (hex) and length of a file, read in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> Result<(String, u64), PortError> {
    let mut file = fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| io_error(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        size,
    ))
}

impl CreatedObjects for LocalStore {
    fn take_created(&self) -> Vec<ObjectCreated> {
        std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ObjectReader for LocalStore {
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, PortError> {
        let path = self.path_of(key)?;
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(ObjectInfo {
                key: key.into(),
                size_bytes: m.len(),
                etag: None,
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        let path = self.path_of(key)?;
        fs::read(&path).map_err(|e| io_error(&path, e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, PortError> {
        // The folder the prefix names or ends in: `media/<id>/frames/` lists that
        // folder, `uploads/talk.` lists `uploads/` and keeps what starts with it.
        let dir_key = match prefix.rsplit_once('/') {
            Some((dir, _)) => dir,
            None => prefix,
        };
        let dir = self
            .path_of(&format!("{dir_key}/x"))?
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&dir, e))?;
            let meta = entry.metadata().map_err(|e| io_error(&entry.path(), e))?;
            if let (true, Some(name)) = (meta.is_file(), entry.file_name().to_str()) {
                let key = format!("{dir_key}/{name}");
                if !key.starts_with(prefix) {
                    continue;
                }
                out.push(ObjectInfo {
                    key,
                    size_bytes: meta.len(),
                    etag: None,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

impl ObjectWriter for LocalStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<(), PortError> {
        let path = self.path_of(key)?;
        write_atomically(&path, &bytes)?;
        self.announce(key, bytes.len() as u64);
        Ok(())
    }

    /// Relative between the folders keys are stored in here (`transcripts/<id>/x` is in
    /// `<root>/<id>/transcripts/`, so from `media/<id>/` it is `transcripts/x`).
    fn relative_path(&self, from_dir: &str, key: &str) -> String {
        let from = self
            .path_of(&format!("{}/x", from_dir.trim_end_matches('/')))
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        match (from, self.path_of(key)) {
            (Some(from), Ok(to)) => match to.strip_prefix(&from) {
                Ok(rest) => rest.to_string_lossy().into_owned(),
                Err(_) => vidpipe_domain::keys::relative_key_path(from_dir, key),
            },
            _ => vidpipe_domain::keys::relative_key_path(from_dir, key),
        }
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), PortError> {
        let (src, dst) = (self.path_of(from)?, self.path_of(to)?);
        let bytes = fs::read(&src).map_err(|e| io_error(&src, e))?;
        write_atomically(&dst, &bytes)?;
        self.announce(to, bytes.len() as u64);
        Ok(())
    }
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PortError> {
    let dir = path
        .parent()
        .ok_or_else(|| PortError::Invalid(format!("{}: no parent", path.display())))?;
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("object")
    ));
    fs::write(&tmp, bytes).map_err(|e| io_error(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidpipe_domain::VideoId;

    #[tokio::test]
    async fn keys_map_into_one_folder_per_video_and_writes_are_announced() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let id = VideoId::parse("0123456789abcdef").unwrap();
        let at = keys::PlanKeys::new(&id, 0);
        let root = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(
            store.path_of(&at.cover()).unwrap(),
            root.join("0123456789abcdef/cover.jpg")
        );
        assert_eq!(
            store
                .path_of(&format!("transcripts/{id}/transcript.json"))
                .unwrap(),
            root.join("0123456789abcdef/transcripts/transcript.json")
        );
        for bad in ["uploads/../x", "/etc/passwd", "media/nothex/x", "other/x"] {
            assert!(store.path_of(bad).is_err(), "{bad}");
        }
        store
            .put(&at.manifest(), b"{}".to_vec(), "application/json")
            .await
            .unwrap();
        store.copy(&at.manifest(), &at.cover()).await.unwrap();
        let created: Vec<_> = store.take_created().into_iter().map(|c| c.key).collect();
        assert_eq!(created, vec![at.manifest(), at.cover()]);
        assert_eq!(store.list(&at.media_dir()).await.unwrap().len(), 2);
        assert_eq!(store.head("uploads/none.mp4").await.unwrap(), None);
        assert_eq!(
            store.relative_path(&at.media_dir(), &at.transcript_json()),
            "transcripts/transcript.json"
        );
        assert_eq!(
            store.relative_path(&at.media_dir(), &at.hls_master()),
            "hls/video.m3u8"
        );
    }

    #[tokio::test]
    async fn uploading_links_the_file_and_hashes_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("out")).unwrap();
        let src = dir.path().join("talk one.mp4");
        fs::write(&src, b"abc").unwrap();
        let event = store.upload_file(&src).unwrap();
        assert_eq!(event.key, "uploads/talk one.mp4");
        assert_eq!(
            event.etag.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(store.get(&event.key).await.unwrap(), b"abc");
        let missing = store.upload_file(&dir.path().join("gone.mp4")).unwrap();
        assert_eq!((missing.size_bytes, missing.etag), (0, None));
        assert!(store.upload_file(dir.path()).is_err());
        // A hash the caller took is used as it is (the file is not read again).
        let known = store.upload_file_hashed(&src, Some("00ff")).unwrap();
        assert_eq!((known.etag.as_deref(), known.size_bytes), (Some("00ff"), 3));
    }

    #[tokio::test]
    async fn a_later_plan_removes_the_earlier_plans_files_but_the_links_subtitles() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let id = VideoId::parse("0123456789abcdef").unwrap();
        let (first, second) = (keys::PlanKeys::new(&id, 0), keys::PlanKeys::new(&id, 2));
        let subtitles = keys::video_transcript_file(&id, "subtitles.en.vtt");
        for key in [
            first.rendition("720p"),
            first.hls_master(),
            first.transcript_json(),
            keys::PlanKeys::new(&id, 1).cover(),
            subtitles.clone(),
            second.cover(),
            second.transcript_json(),
        ] {
            store
                .put(&key, b"x".to_vec(), "application/octet-stream")
                .await
                .unwrap();
        }
        store.remove_superseded(&first).unwrap();
        assert!(
            store.path_of(&first.rendition("720p")).unwrap().exists(),
            "generation 0 removes nothing"
        );
        store.remove_superseded(&second).unwrap();
        let left: Vec<_> = walk(&store.video_dir(&id));
        let root = store.video_dir(&id);
        let left: Vec<String> = left
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            left,
            [
                "g2/cover.jpg",
                "transcripts/g2/transcript.json",
                "transcripts/subtitles.en.vtt"
            ]
        );
    }

    /// Every file under `dir`, sorted.
    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out.sort();
        out
    }
}

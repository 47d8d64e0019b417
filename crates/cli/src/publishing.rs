//! Where the local mode publishes and how: the deployment's destination list (a JSON
//! file, overridden per video by a sidecar's `publish`), the platforms' credentials
//! (`vidpipe auth`'s file), and the pass that moves a video's destinations, waiting in
//! the process for short waits (a platform's processing, a brief rate limit) and
//! leaving longer ones (a spent daily quota) to `vidpipe publish --due`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use anyhow::{Context, Result};
use vidpipe_domain::destinations::clock::format_utc;
use vidpipe_domain::destinations::{parse_destinations, DestinationRequest};
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::ports::{Notifier, Publisher, VideoRecords};
use vidpipe_domain::record::VideoRecord;
use vidpipe_domain::stages::{publish_to_destinations, DestinationsReport};
use vidpipe_local::{LocalStore, ReportPublisher, SqliteRecords};
use vidpipe_platforms::auth::Credentials;
use vidpipe_platforms::clients::{Endpoints, PlatformClients, SourceOpener, DEFAULT_CHUNK};
use vidpipe_platforms::{FileSource, UploadError};

#[derive(clap::Args, Clone, Debug)]
pub struct PublishingArgs {
    /// Where every video is published unless its sidecar's `publish` says otherwise:
    /// a JSON file holding a list like the sidecar's (`[{"to": "youtube"}, …]`).
    /// Default: `$XDG_CONFIG_HOME/vidpipe/destinations.json` when it exists.
    #[arg(long, env = "VIDPIPE_DESTINATIONS")]
    pub destinations: Option<PathBuf>,
    /// The platforms' credentials, as `vidpipe auth` keeps them. Default:
    /// `$XDG_CONFIG_HOME/vidpipe/credentials.json`.
    #[arg(long, env = "VIDPIPE_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// How long a run waits for a destination (a platform still processing, a short
    /// rate limit) before leaving it to `vidpipe publish --due`, in seconds.
    #[arg(long, default_value_t = 300)]
    pub publish_wait_s: u64,
    #[arg(long, env = "VIDPIPE_YOUTUBE_API", hide = true)]
    pub youtube_api: Option<String>,
    #[arg(long, env = "VIDPIPE_GOOGLE_TOKEN_URL", hide = true)]
    pub google_token_url: Option<String>,
    #[arg(long, env = "VIDPIPE_VIMEO_API", hide = true)]
    pub vimeo_api: Option<String>,
    #[arg(long, env = "VIDPIPE_FACEBOOK_API", hide = true)]
    pub facebook_api: Option<String>,
    /// Bytes per upload request (YouTube rounds it to 256 KiB multiples).
    #[arg(long, env = "VIDPIPE_UPLOAD_CHUNK", hide = true, default_value_t = DEFAULT_CHUNK)]
    pub upload_chunk: usize,
    /// The clock, Unix seconds, for tests: it stands still except where the run would
    /// wait, and then it jumps.
    #[arg(long, env = "VIDPIPE_NOW", hide = true)]
    pub now: Option<i64>,
}

impl PublishingArgs {
    /// No destinations file or credentials named: the defaults.
    pub fn none() -> PublishingArgs {
        PublishingArgs {
            destinations: None,
            credentials: None,
            publish_wait_s: 300,
            youtube_api: None,
            google_token_url: None,
            vimeo_api: None,
            facebook_api: None,
            upload_chunk: DEFAULT_CHUNK,
            now: None,
        }
    }

    /// Reads the destinations file (the named one, or the default one when it
    /// exists).
    ///
    /// # Errors
    /// The file named cannot be read, or its list is not one (the entry and the
    /// reason named, as for a sidecar).
    pub fn open(&self) -> Result<Publishing> {
        let config_dir = config_dir();
        let file = self.destinations.clone().or_else(|| {
            config_dir
                .as_ref()
                .map(|d| d.join("destinations.json"))
                .filter(|p| p.is_file())
        });
        let requests = match &file {
            Some(path) => read_destinations(path)?,
            None => Vec::new(),
        };
        let credentials = self
            .credentials
            .clone()
            .or_else(|| config_dir.map(|d| d.join("credentials.json")))
            .unwrap_or_else(|| PathBuf::from("credentials.json"));
        let defaults = Endpoints::default();
        Ok(Publishing {
            requests,
            credentials,
            endpoints: Endpoints {
                youtube: self.youtube_api.clone().unwrap_or(defaults.youtube),
                google_token: self
                    .google_token_url
                    .clone()
                    .unwrap_or(defaults.google_token),
                vimeo: self.vimeo_api.clone().unwrap_or(defaults.vimeo),
                facebook: self.facebook_api.clone().unwrap_or(defaults.facebook),
            },
            chunk: self.upload_chunk.max(1),
            wait_s: self.publish_wait_s as i64,
            clock: self.now.map(AtomicI64::new),
        })
    }
}

/// `$XDG_CONFIG_HOME/vidpipe`, else `~/.config/vidpipe`: where `vidpipe auth` keeps
/// the credentials and the destinations file is looked for.
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|base| base.join("vidpipe"))
}

fn read_destinations(path: &Path) -> Result<Vec<DestinationRequest>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the destinations", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    // A bare list, or `{"publish": [...]}` as in a sidecar.
    let list = value.get("publish").cloned().unwrap_or(value);
    parse_destinations(&list).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The local mode's publishing: the deployment's list and how to reach the platforms.
pub struct Publishing {
    pub requests: Vec<DestinationRequest>,
    pub credentials: PathBuf,
    pub endpoints: Endpoints,
    pub chunk: usize,
    pub wait_s: i64,
    clock: Option<AtomicI64>,
}

/// The platforms as the local mode reaches them.
pub type LocalPlatforms<'a> = PlatformClients<LocalFiles<'a>>;

/// The store's files, for upload.
pub struct LocalFiles<'a> {
    pub store: &'a LocalStore,
}

impl SourceOpener for LocalFiles<'_> {
    type Source = FileSource;

    async fn open(&self, key: &str) -> Result<FileSource, UploadError> {
        let path = self
            .store
            .path_of(key)
            .map_err(|e| UploadError::Source(e.to_string()))?;
        FileSource::open(path)
    }

    async fn read_all(&self, key: &str) -> Result<Vec<u8>, UploadError> {
        let path = self
            .store
            .path_of(key)
            .map_err(|e| UploadError::Source(e.to_string()))?;
        tokio::fs::read(&path)
            .await
            .map_err(|e| UploadError::Source(format!("{}: {e}", path.display())))
    }
}

impl Publishing {
    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        match &self.clock {
            Some(t) => t.load(Ordering::SeqCst),
            None => vidpipe_domain::record::now_unix_s() as i64,
        }
    }

    async fn wait_until(&self, t: i64) {
        match &self.clock {
            Some(c) => c.store(t.max(c.load(Ordering::SeqCst)), Ordering::SeqCst),
            None => {
                let s = (t - self.now()).max(0) as u64;
                tokio::time::sleep(std::time::Duration::from_secs(s)).await;
            }
        }
    }

    /// The platforms with the credentials file's tokens, reading `store`'s files:
    /// made once per command, so that the file is read and a YouTube access token
    /// bought once however many videos are driven.
    ///
    /// # Errors
    /// The credentials file cannot be read (others may read it, not JSON).
    pub fn platforms<'a>(&self, store: &'a LocalStore) -> Result<LocalPlatforms<'a>> {
        Ok(PlatformClients::new(
            LocalFiles { store },
            Credentials::load(&self.credentials)?,
            &self.endpoints,
            self.chunk,
            "run `vidpipe auth {}`",
        ))
    }

    /// Moves the video's destinations as far as they go, waiting here for what comes
    /// due within [`Publishing::wait_s`]; rewrites the report page with their links.
    ///
    /// # Errors
    /// The record store's errors.
    pub async fn drive<N: Notifier>(
        &self,
        platforms: &LocalPlatforms<'_>,
        store: &LocalStore,
        records: &SqliteRecords,
        notifier: &N,
        id: &VideoId,
    ) -> Result<DestinationsReport> {
        let deadline = self.now() + self.wait_s;
        let report = loop {
            let now = || self.now();
            let report =
                publish_to_destinations(records, platforms, notifier, id, &now, None).await?;
            match report.next_due_unix_s {
                Some(t) if report.held_elsewhere.is_empty() && t <= deadline => {
                    self.wait_until(t).await
                }
                _ => break report,
            }
        };
        if let Some(record) = records.get(id).await? {
            let publisher = ReportPublisher { store };
            publisher.publish(&record).await?;
        }
        Ok(report)
    }
}

/// One line per destination; whether every one has settled.
pub fn print_destinations(record: &VideoRecord, report: &DestinationsReport) -> bool {
    for (label, state) in &report.states {
        println!("  {label:<20} {state}");
    }
    for held in &report.held_elsewhere {
        println!("  {held}: another run is uploading it");
    }
    if report.waiting_for_parts && record.status != vidpipe_domain::record::VideoStatus::Failed {
        println!(
            "  video {} is still being processed: its platforms get it once its own parts are done",
            record.id
        );
    }
    match report.next_due_unix_s {
        Some(t) if !report.settled() => {
            println!(
                "  video {} is not published yet: `vidpipe publish --due` goes on from {}",
                record.id,
                format_utc(t)
            );
            false
        }
        _ => true,
    }
}

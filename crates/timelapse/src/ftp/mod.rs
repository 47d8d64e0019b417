//! Frames from an FTP server into a [`FrameStore`] (a local folder, or the bucket in
//! the cloud): only the period's frames that are missing or changed there (size and
//! modification time) are downloaded, in binary mode, on one connection that is
//! reopened and retried when it drops; stored frames older than the period are
//! removed; nothing on the server is ever changed. The folder is listed once (`MLSD`,
//! or `NLST` with `SIZE` and `MDTM` per frame on servers without it).
//!
//! `ftp://` asks for TLS (`AUTH TLS`, RFC 4217) and goes on in the clear when the
//! server does not offer it; `ftps://` insists on it. Server certificates are checked
//! against the Mozilla roots (webpki-roots), or the PEM file given with
//! [`FtpSource::with_ca_file`].

mod source;
mod store;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use backon::{BlockingRetryable, ExponentialBuilder};
use serde::Serialize;
use suppaftp::list::ListParser;
use suppaftp::{FtpError, RustlsFtpStream};
use thiserror::Error;
use tracing::{debug, info, warn};
use vidpipe_domain::timelapse::{self, time_in_name, FrameTime, Period, Selection, TimelapseError};

pub use source::{redact, FtpSource, Tls};
pub use store::{FolderStore, FrameStore, Held, Remote};

/// The port of `ftp://` and `ftps://` URLs without one (RFC 959; explicit FTPS uses the
/// same port, RFC 4217).
pub const DEFAULT_PORT: u16 = 21;
/// Tries of one operation (connect, list, one download) before it is given up.
pub const ATTEMPTS: usize = 3;
/// How long a connection, a read or a write may wait.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why a sync stopped. None of them carries the password.
#[derive(Debug, Error)]
pub enum SyncError {
    #[error("{url}: not an FTP folder: {reason} (ftp://[user[:password]@]host[:port]/dir)")]
    BadUrl { url: String, reason: String },
    #[error("{server}: cannot connect: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("{server}: the server refused the login of {user:?}: {reply}")]
    LoginRefused {
        server: String,
        user: String,
        reply: String,
    },
    #[error("{server}: TLS: {reason}")]
    Tls { server: String, reason: String },
    #[error("{server}: no folder {dir:?}: {reply}")]
    NoFolder {
        server: String,
        dir: String,
        reply: String,
    },
    #[error("{server}: {reason}")]
    Transfer { server: String, reason: String },
    #[error("{server}: {error}")]
    Frames {
        server: String,
        error: TimelapseError,
    },
    #[error("{path}: {reason}")]
    Local { path: String, reason: String },
}

impl SyncError {
    /// A dropped or refused connection, or a transfer cut short: worth another try.
    fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Unreachable { .. } | SyncError::Transfer { .. }
        )
    }
}

/// Which frames to keep: the period's, by the times in their names.
#[derive(Debug, Clone)]
pub struct Want<'a> {
    pub pattern: Option<&'a str>,
    pub period: Period,
    /// The period's end; `None`: the newest frame on the server.
    pub end: Option<FrameTime>,
}

/// A frame that could not be downloaded, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Failed {
    pub name: String,
    pub reason: String,
}

/// What a sync did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// The folder, without the password.
    pub source: String,
    /// Whether TLS protected the session.
    pub tls: bool,
    /// Files in the server's folder.
    pub listed: usize,
    /// The period's frames there.
    pub in_period: usize,
    /// Frames downloaded (in a dry run: that would be).
    pub downloaded: Vec<String>,
    /// Frames already here with the server's size and time.
    pub up_to_date: usize,
    /// Local frames older than the period, removed (in a dry run: that would be).
    pub removed: Vec<String>,
    /// Frames still missing after every try.
    pub failed: Vec<Failed>,
    /// Bytes downloaded.
    pub bytes: u64,
}

impl SyncReport {
    /// The frames still missing after every try, as one sentence; `None` when none is.
    pub fn failure(&self) -> Option<String> {
        if self.failed.is_empty() {
            return None;
        }
        let list: Vec<String> = self
            .failed
            .iter()
            .map(|f| format!("{}: {}", f.name, f.reason))
            .collect();
        Some(format!(
            "{} frame(s) could not be downloaded (the others were; run again to finish): {}",
            self.failed.len(),
            list.join("; ")
        ))
    }
}

/// One connection, reopened when it drops.
struct Session<'a> {
    source: &'a FtpSource,
    ftp: Option<RustlsFtpStream>,
    tls: bool,
}

impl Session<'_> {
    /// `op` on the connection, tried [`ATTEMPTS`] times with a doubling wait while it
    /// fails with a transient error (the connection is reopened for the next try).
    fn retry<T>(
        &mut self,
        what: &str,
        mut op: impl FnMut(&mut RustlsFtpStream) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.source.retry_delay)
            .with_max_times(ATTEMPTS - 1);
        let source = self.source;
        (|| {
            if self.ftp.is_none() {
                let (ftp, tls) = source.open()?;
                self.ftp = Some(ftp);
                self.tls = tls;
            }
            let result = op(self.ftp.as_mut().expect("opened above"));
            if result.as_ref().is_err_and(SyncError::is_transient) {
                self.ftp = None;
            }
            result
        })
        .retry(backoff)
        .sleep(std::thread::sleep)
        .when(SyncError::is_transient)
        .notify(|e, wait| warn!(%source, error = %e, ?wait, "{what}: trying again"))
        .call()
    }

    fn quit(mut self) {
        if let Some(mut ftp) = self.ftp.take() {
            let _ = ftp.quit();
        }
    }
}

/// The folder's files: `MLSD` (RFC 3659: names, sizes and times in one listing), or
/// `NLST` on servers without it (sizes and times are then asked per frame).
fn list(
    source: &FtpSource,
    ftp: &mut RustlsFtpStream,
) -> Result<BTreeMap<String, Remote>, SyncError> {
    match ftp.mlsd(None) {
        Ok(lines) => Ok(lines
            .iter()
            .filter_map(|line| ListParser::parse_mlsd(line).ok())
            .filter(|f| f.is_file())
            .map(|f| {
                let remote = Remote {
                    size: Some(f.size() as u64),
                    modified: Some(f.modified()),
                };
                (f.name().to_string(), remote)
            })
            .collect()),
        Err(FtpError::UnexpectedResponse(reply)) => {
            debug!(%source, %reply, "no MLSD; listing names with NLST");
            let names = ftp.nlst(None).map_err(|e| source.error(e))?;
            Ok(names
                .into_iter()
                .map(|n| n.rsplit('/').next().unwrap_or(&n).to_string())
                .filter(|n| !n.is_empty() && n != "." && n != "..")
                .map(|n| {
                    let remote = Remote {
                        size: None,
                        modified: None,
                    };
                    (n, remote)
                })
                .collect())
        }
        Err(e) => Err(source.error(e)),
    }
}

/// The size and time of a file listed by `NLST` (`SIZE`, `MDTM`: RFC 3659).
fn stat(source: &FtpSource, ftp: &mut RustlsFtpStream, name: &str) -> Result<Remote, SyncError> {
    let size = match ftp.size(name) {
        Ok(n) => Some(n as u64),
        Err(FtpError::UnexpectedResponse(_)) => None,
        Err(e) => return Err(source.error(e)),
    };
    let modified = match ftp.mdtm(name) {
        Ok(t) => Some(SystemTime::from(t.and_utc())),
        Err(FtpError::UnexpectedResponse(_)) => None,
        Err(e) => return Err(source.error(e)),
    };
    Ok(Remote { size, modified })
}

/// Downloads `name` into `store`.
fn download(
    source: &FtpSource,
    ftp: &mut RustlsFtpStream,
    store: &mut dyn FrameStore,
    name: &str,
    remote: &Remote,
) -> Result<u64, SyncError> {
    let mut stored = None;
    let result = ftp.retr(name, |reader| {
        let r = store.receive(name, remote, reader);
        let failed_reading = matches!(r, Err(SyncError::Transfer { .. }));
        stored = Some(r);
        if failed_reading {
            Err(FtpError::ConnectionError(std::io::Error::other(
                "the transfer was cut short",
            )))
        } else {
            Ok(())
        }
    });
    match (stored, result) {
        (Some(Err(e @ SyncError::Local { .. })), _) => Err(e),
        (Some(Err(SyncError::Transfer { reason, .. })), _) => Err(SyncError::Transfer {
            server: source.to_string(),
            reason: format!("{name}: {reason}"),
        }),
        (_, Err(e)) => Err(source.error(e)),
        (Some(Ok(bytes)), Ok(())) => Ok(bytes),
        (Some(Err(e)), Ok(())) => Err(e),
        (None, Ok(())) => Err(SyncError::Transfer {
            server: source.to_string(),
            reason: format!("{name}: nothing was read"),
        }),
    }
}

/// Brings the period's frames of `source` into `store` and removes the frames there
/// older than the period. With `dry_run`, only lists: the report says what would be
/// downloaded and removed, and nothing is written. Returns the report and the period's
/// frames as the server lists them.
///
/// # Errors
/// The URL's server unreachable, the login refused, the folder missing, TLS refused
/// (`ftps://`), the listing failing after [`ATTEMPTS`] tries, no frame in the period
/// ([`SyncError::Frames`]), or the local folder unwritable. A frame that fails after
/// every try is not an error here: it is in [`SyncReport::failed`], and the rest are
/// still downloaded.
pub fn sync(
    source: &FtpSource,
    store: &mut dyn FrameStore,
    want: &Want<'_>,
    dry_run: bool,
) -> Result<(SyncReport, Selection), SyncError> {
    let mut session = Session {
        source,
        ftp: None,
        tls: false,
    };
    let listing = session.retry("listing", |ftp| list(source, ftp))?;
    let names: Vec<String> = listing.keys().cloned().collect();
    let selection =
        timelapse::select(&names, want.pattern, want.period, want.end, None).map_err(|error| {
            SyncError::Frames {
                server: source.to_string(),
                error,
            }
        })?;
    let mut report = SyncReport {
        source: source.to_string(),
        listed: listing.len(),
        in_period: selection.frames.len(),
        ..SyncReport::default()
    };
    let held = store.held()?;
    for frame in &selection.frames {
        let mut remote = listing[&frame.name];
        if remote.size.is_none() && remote.modified.is_none() {
            remote = session.retry("SIZE and MDTM", |ftp| stat(source, ftp, &frame.name))?;
        }
        if held.get(&frame.name).is_some_and(|h| h.is(&remote)) {
            report.up_to_date += 1;
            continue;
        }
        if dry_run {
            report.downloaded.push(frame.name.clone());
            continue;
        }
        match session.retry(&frame.name, |ftp| {
            download(source, ftp, store, &frame.name, &remote)
        }) {
            Ok(bytes) => {
                report.bytes += bytes;
                report.downloaded.push(frame.name.clone());
            }
            Err(e @ SyncError::Local { .. }) => return Err(e),
            Err(e) => report.failed.push(Failed {
                name: frame.name.clone(),
                reason: e.to_string(),
            }),
        }
    }
    report.tls = session.tls;
    session.quit();
    // Frames older than the period; other files are left alone.
    for name in held.keys() {
        let aged = !name.starts_with('.')
            && crate::is_frame_name(name)
            && time_in_name(name, want.pattern).is_some_and(|t| t < selection.start);
        if aged {
            if !dry_run {
                store.remove(name)?;
            }
            report.removed.push(name.clone());
        }
    }
    info!(
        %source,
        downloaded = report.downloaded.len(),
        up_to_date = report.up_to_date,
        removed = report.removed.len(),
        failed = report.failed.len(),
        "frames synced"
    );
    Ok((report, selection))
}

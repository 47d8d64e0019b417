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

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backon::{BlockingRetryable, ExponentialBuilder};
use serde::Serialize;
use suppaftp::list::ListParser;
use suppaftp::types::FileType;
use suppaftp::{FtpError, RustlsConnector, RustlsFtpStream};
use thiserror::Error;
use tracing::{debug, info, warn};
use vidpipe_domain::timelapse::{self, time_in_name, FrameTime, Period, Selection, TimelapseError};

/// The port of `ftp://` and `ftps://` URLs without one (RFC 959; explicit FTPS uses the
/// same port, RFC 4217).
pub const DEFAULT_PORT: u16 = 21;
/// Tries of one operation (connect, list, one download) before it is given up.
pub const ATTEMPTS: usize = 3;
/// How long a connection, a read or a write may wait.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Whether the control and data connections are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// `ftp://`: TLS when the server accepts `AUTH TLS`, else in the clear.
    WhenOffered,
    /// `ftps://`: TLS or nothing.
    Required,
}

/// An FTP folder: `ftp://[user[:password]@]host[:port]/dir` (or `ftps://`). Without a
/// user, `anonymous`. The password is never shown: not by `Display`, `Debug`, errors
/// or reports.
#[derive(Clone)]
pub struct FtpSource {
    pub host: String,
    pub port: u16,
    pub user: String,
    password: String,
    /// The folder, as sent to `CWD`; empty for the login folder.
    pub dir: String,
    pub tls: Tls,
    ca_file: Option<PathBuf>,
    /// The first wait between tries; doubled each time.
    retry_delay: Duration,
}

impl std::fmt::Display for FtpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.tls {
            Tls::WhenOffered => "ftp",
            Tls::Required => "ftps",
        };
        let user = if self.user == "anonymous" {
            String::new()
        } else {
            format!("{}@", self.user)
        };
        write!(
            f,
            "{scheme}://{user}{}:{}/{}",
            self.host,
            self.port,
            self.dir.trim_start_matches('/')
        )
    }
}

impl std::fmt::Debug for FtpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FtpSource({self})")
    }
}

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

impl FtpSource {
    /// # Errors
    /// [`SyncError::BadUrl`]: not `ftp://` or `ftps://`, no host, or a bad port.
    pub fn parse(text: &str) -> Result<FtpSource, SyncError> {
        let bad = |reason: &str| SyncError::BadUrl {
            url: redact(text),
            reason: reason.to_string(),
        };
        let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        let tls = match url.scheme() {
            "ftp" => Tls::WhenOffered,
            "ftps" => Tls::Required,
            other => return Err(bad(&format!("the scheme is {other:?}"))),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(bad("no host"))?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("the user, password or folder is not UTF-8"))
        };
        let user = match url.username() {
            "" => "anonymous".to_string(),
            u => decode(u)?,
        };
        let password = match url.password() {
            Some(p) => decode(p)?,
            None if user == "anonymous" => "anonymous@".to_string(),
            None => String::new(),
        };
        Ok(FtpSource {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: url.port().unwrap_or(DEFAULT_PORT),
            user,
            password,
            dir: decode(url.path())?,
            tls,
            ca_file: None,
            retry_delay: Duration::from_millis(500),
        })
    }

    /// Trusts the certificates in a PEM file instead of the Mozilla roots (a server
    /// with a private CA or a self-signed certificate).
    pub fn with_ca_file(mut self, path: Option<PathBuf>) -> FtpSource {
        self.ca_file = path;
        self
    }

    /// The password (from a secret store rather than the URL).
    pub fn with_password(mut self, password: String) -> FtpSource {
        self.password = password;
        self
    }

    /// The first wait between tries (500 ms unless set; doubled each time).
    pub fn with_retry_delay(mut self, delay: Duration) -> FtpSource {
        self.retry_delay = delay;
        self
    }

    fn error(&self, e: FtpError) -> SyncError {
        SyncError::Transfer {
            server: self.to_string(),
            reason: e.to_string(),
        }
    }

    fn tcp(&self) -> Result<TcpStream, SyncError> {
        let unreachable = |reason: String| SyncError::Unreachable {
            server: self.to_string(),
            reason,
        };
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| unreachable(e.to_string()))?
            .collect();
        let mut last = String::from("the host has no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(tcp) => {
                    let _ = tcp.set_read_timeout(Some(TIMEOUT));
                    let _ = tcp.set_write_timeout(Some(TIMEOUT));
                    return Ok(tcp);
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(unreachable(last))
    }

    fn plain(&self) -> Result<RustlsFtpStream, SyncError> {
        let ftp = RustlsFtpStream::connect_with_stream(self.tcp()?).map_err(|e| {
            SyncError::Unreachable {
                server: self.to_string(),
                reason: e.to_string(),
            }
        })?;
        Ok(ftp.passive_stream_builder(|addr| {
            let tcp =
                TcpStream::connect_timeout(&addr, TIMEOUT).map_err(FtpError::ConnectionError)?;
            let _ = tcp.set_read_timeout(Some(TIMEOUT));
            let _ = tcp.set_write_timeout(Some(TIMEOUT));
            Ok(tcp)
        }))
    }

    fn tls_connector(&self) -> Result<RustlsConnector, SyncError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        let tls_error = |reason: String| SyncError::Tls {
            server: self.to_string(),
            reason,
        };
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| tls_error(format!("{}: {e}", path.display())))?;
                for cert in certs {
                    let cert = cert.map_err(|e| tls_error(format!("{}: {e}", path.display())))?;
                    roots
                        .add(cert)
                        .map_err(|e| tls_error(format!("{}: {e}", path.display())))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(RustlsConnector::from(Arc::new(config)))
    }

    /// A logged-in session in binary mode, in the folder: (the stream, whether TLS).
    fn open(&self) -> Result<(RustlsFtpStream, bool), SyncError> {
        let (mut ftp, tls) = match self.plain()?.into_secure(self.tls_connector()?, &self.host) {
            Ok(secure) => (secure, true),
            Err(FtpError::UnexpectedResponse(reply)) if self.tls == Tls::WhenOffered => {
                debug!(source = %self, %reply, "the server does not offer TLS");
                (self.plain()?, false)
            }
            Err(FtpError::UnexpectedResponse(reply)) => {
                return Err(SyncError::Tls {
                    server: self.to_string(),
                    reason: format!("the server refused AUTH TLS: {reply}"),
                })
            }
            // A handshake that fails (an untrusted certificate) shows as an I/O error
            // with rustls's inside: that is no reason to try again.
            Err(FtpError::ConnectionError(e))
                if e.get_ref()
                    .and_then(|i| i.downcast_ref::<rustls::Error>())
                    .is_some() =>
            {
                return Err(SyncError::Tls {
                    server: self.to_string(),
                    reason: e.to_string(),
                })
            }
            Err(FtpError::ConnectionError(e)) => {
                return Err(SyncError::Unreachable {
                    server: self.to_string(),
                    reason: e.to_string(),
                })
            }
            Err(e) => {
                return Err(SyncError::Tls {
                    server: self.to_string(),
                    reason: e.to_string(),
                })
            }
        };
        match ftp.login(self.user.as_str(), self.password.as_str()) {
            Ok(()) => {}
            Err(FtpError::UnexpectedResponse(reply)) => {
                return Err(SyncError::LoginRefused {
                    server: self.to_string(),
                    user: self.user.clone(),
                    reply: reply.to_string().trim().to_string(),
                })
            }
            Err(e) => return Err(self.error(e)),
        }
        // The transfer type starts as ASCII, which would rewrite line ends in images
        // (RFC 959 §3.1.1.1).
        ftp.transfer_type(FileType::Binary)
            .map_err(|e| self.error(e))?;
        if !self.dir.is_empty() && self.dir != "/" {
            match ftp.cwd(&self.dir) {
                Ok(()) => {}
                Err(FtpError::UnexpectedResponse(reply)) => {
                    return Err(SyncError::NoFolder {
                        server: self.to_string(),
                        dir: self.dir.clone(),
                        reply: reply.to_string().trim().to_string(),
                    })
                }
                Err(e) => return Err(self.error(e)),
            }
        }
        Ok((ftp, tls))
    }
}

/// A URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
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

fn seconds(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
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

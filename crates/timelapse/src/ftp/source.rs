//! Where frames come from: an FTP folder's URL, and the logged-in session on it (TLS
//! when offered or required, binary mode, the folder).

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use suppaftp::types::FileType;
use suppaftp::{FtpError, RustlsConnector, RustlsFtpStream};
use tracing::debug;

use super::{SyncError, DEFAULT_PORT, TIMEOUT};

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
    pub(super) retry_delay: Duration,
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

    pub(super) fn error(&self, e: FtpError) -> SyncError {
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
    pub(super) fn open(&self) -> Result<(RustlsFtpStream, bool), SyncError> {
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

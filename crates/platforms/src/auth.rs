//! Credentials for the platforms: kept in one JSON file only its owner may read, and
//! got from Google by the OAuth 2.0 flow for installed applications (a loopback
//! redirect and PKCE: Google Identity, "OAuth 2.0 for iOS & Desktop Apps"; RFC 8252
//! §7.3, RFC 7636). Vimeo and Facebook issue tokens on their developer pages; they are
//! pasted. Tokens never reach logs, errors or records: [`Credentials`]' `Debug` hides
//! them.

use std::fmt;
use std::path::Path;

use base64::Engine;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Refusal, UploadError};

/// The scopes vidpipe asks Google for: uploading (`youtube.upload`) and captions
/// (`youtube.force-ssl`, which captions.insert needs).
pub const YOUTUBE_SCOPES: &str =
    "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.force-ssl";

#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct YouTubeCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VimeoCredentials {
    pub access_token: String,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FacebookCredentials {
    pub app_id: String,
    pub page_id: String,
    pub user_token: String,
    pub page_token: String,
}

/// Every platform's credentials, as the file keeps them.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub youtube: Option<YouTubeCredentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vimeo: Option<VimeoCredentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facebook: Option<FacebookCredentials>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let has = |b: bool| if b { "<set>" } else { "<none>" };
        f.debug_struct("Credentials")
            .field("youtube", &has(self.youtube.is_some()))
            .field("vimeo", &has(self.vimeo.is_some()))
            .field("facebook", &has(self.facebook.is_some()))
            .finish()
    }
}

/// Why credentials could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("credentials file {path}: {reason}")]
    File { path: String, reason: String },
}

impl Credentials {
    fn fail(path: &Path, reason: impl ToString) -> CredentialsError {
        CredentialsError::File {
            path: path.display().to_string(),
            reason: reason.to_string(),
        }
    }

    /// The file at `path`; none there means no credentials yet.
    ///
    /// # Errors
    /// [`CredentialsError::File`] when others may read it (its mode allows group or
    /// world access: `chmod 600` it), or it is not JSON of this shape (the reason
    /// never quotes the file).
    pub fn load(path: &Path) -> Result<Credentials, CredentialsError> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
            Err(e) => return Err(Credentials::fail(path, e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Credentials::fail(
                    path,
                    format!("others may read it (mode {mode:o}): chmod 600 it"),
                ));
            }
        }
        let bytes = std::fs::read(path).map_err(|e| Credentials::fail(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Credentials::fail(
                path,
                format!(
                    "not a credentials document (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })
    }

    /// Writes the file, readable and writable by its owner only (mode 600), through a
    /// temporary file beside it so that a crash never leaves half a file.
    ///
    /// # Errors
    /// [`CredentialsError::File`] when it cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), CredentialsError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Credentials::fail(path, e))?;
        let tmp = path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let text = serde_json::to_vec_pretty(self).map_err(|e| Credentials::fail(path, e))?;
        let mut file = options.open(&tmp).map_err(|e| Credentials::fail(path, e))?;
        std::io::Write::write_all(&mut file, &text).map_err(|e| Credentials::fail(path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Credentials::fail(path, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| Credentials::fail(path, e))
    }
}

/// Random bytes as base64url without padding (RFC 7636 §4.1: a code verifier of 43
/// characters from 32 bytes).
fn random_base64url(bytes: usize) -> Result<String, UploadError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| UploadError::Protocol(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// One query parameter of a request target (`/?code=…&state=…`), decoded.
fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// Google's consent for an installed application: where to send the person, where
/// the code is exchanged.
#[derive(Debug, Clone)]
pub struct GoogleInstalledApp {
    pub client: reqwest::Client,
    /// `https://accounts.google.com/o/oauth2/v2/auth`
    pub auth_url: String,
    /// `https://oauth2.googleapis.com/token`
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
}

impl GoogleInstalledApp {
    /// Listens on a loopback port, gives `show` the consent URL to open (the person
    /// signs in and allows vidpipe there), takes the one redirect that comes back,
    /// checks its `state`, and exchanges the code (with the PKCE verifier) for a
    /// refresh token.
    ///
    /// # Errors
    /// [`UploadError::Protocol`] when the redirect carries an `error` (the person
    /// refused), another `state`, or no code, or the token answer has no
    /// `refresh_token`; [`UploadError::Refused`] with the token endpoint's answer.
    pub async fn authorise(&self, show: impl FnOnce(&str)) -> Result<String, UploadError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| UploadError::Transport(format!("loopback listener: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| UploadError::Transport(e.to_string()))?
            .port();
        let redirect_uri = format!("http://127.0.0.1:{port}/");
        let state = random_base64url(16)?;
        let verifier = random_base64url(32)?;
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        let url = format!(
            "{}?client_id={}&redirect_uri={}&response_type=code&scope={}&access_type=offline&prompt=consent&state={}&code_challenge={}&code_challenge_method=S256",
            self.auth_url,
            encode(&self.client_id),
            encode(&redirect_uri),
            encode(YOUTUBE_SCOPES),
            state,
            challenge
        );
        show(&url);
        let (mut socket, _) = listener
            .accept()
            .await
            .map_err(|e| UploadError::Transport(format!("loopback: {e}")))?;
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
            let n = socket
                .read(&mut buf)
                .await
                .map_err(|e| UploadError::Transport(e.to_string()))?;
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&request);
        let target = text.split_whitespace().nth(1).unwrap_or("").to_string();
        let outcome = if let Some(error) = query_param(&target, "error") {
            Err(format!(
                "Google answered {error:?}: the consent was not given"
            ))
        } else if query_param(&target, "state").as_deref() != Some(state.as_str()) {
            Err("the redirect's state is not this request's".into())
        } else {
            query_param(&target, "code").ok_or_else(|| "the redirect has no code".to_string())
        };
        let page = match &outcome {
            Ok(_) => "vidpipe has the consent: you may close this page.".to_string(),
            Err(why) => format!("vidpipe did not get the consent: {why}"),
        };
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = socket.write_all(reply.as_bytes()).await;
        let _ = socket.shutdown().await;
        let code = outcome.map_err(UploadError::Protocol)?;
        let response = self
            .client
            .post(&self.token_url)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect_uri.as_str()),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(UploadError::Refused(Refusal::of(response).await));
        }
        let answer: serde_json::Value = response.json().await?;
        answer["refresh_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                UploadError::Protocol(
                    "Google gave no refresh token: remove vidpipe's access in the Google account and run again"
                        .into(),
                )
            })
    }
}

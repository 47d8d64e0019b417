//! The publish function's platforms: each upload read from S3 by ranged GETs, one
//! chunk at a time (never the whole video in memory), with each platform's
//! credentials from its own Secrets Manager secret, read once per cold start.

use vidpipe_domain::ports::ObjectReader;
use vidpipe_platforms::auth::{
    Credentials, FacebookCredentials, VimeoCredentials, YouTubeCredentials,
};
use vidpipe_platforms::clients::{PlatformClients, SourceOpener};
use vidpipe_platforms::{ByteSource, UploadError};

use crate::config::{ConfigError, FunctionConfig};
use crate::s3::S3Store;

/// The platforms as the publish function reaches them.
pub type CloudPlatforms = PlatformClients<S3Objects>;

/// What a person does when a platform has no credentials in this deployment.
pub const HOW_TO_AUTHORISE: &str =
    "store them in a Secrets Manager secret and name it in the template's parameter for {} (YouTubeSecretArn, VimeoSecretArn, FacebookSecretArn)";

/// The bucket's objects, for upload.
#[derive(Clone, Debug)]
pub struct S3Objects {
    pub store: S3Store,
}

/// One object, read by byte range.
#[derive(Clone, Debug)]
pub struct S3Object {
    store: S3Store,
    key: String,
    len: u64,
}

impl ByteSource for S3Object {
    fn len(&self) -> u64 {
        self.len
    }

    async fn read(&self, offset: u64, length: usize) -> Result<Vec<u8>, UploadError> {
        let end = (offset + length as u64).min(self.len);
        if offset >= end {
            return Ok(Vec::new());
        }
        self.store
            .get_range(&self.key, offset, end)
            .await
            .map_err(|e| {
                UploadError::Source(format!("s3://{}/{}: {e}", self.store.bucket, self.key))
            })
    }
}

impl SourceOpener for S3Objects {
    type Source = S3Object;

    async fn open(&self, key: &str) -> Result<S3Object, UploadError> {
        let info = self
            .store
            .head(key)
            .await
            .map_err(|e| UploadError::Source(e.to_string()))?
            .ok_or_else(|| {
                UploadError::Source(format!("s3://{}/{key}: no such object", self.store.bucket))
            })?;
        Ok(S3Object {
            store: self.store.clone(),
            key: key.to_string(),
            len: info.size_bytes,
        })
    }

    async fn read_all(&self, key: &str) -> Result<Vec<u8>, UploadError> {
        self.store
            .get(key)
            .await
            .map_err(|e| UploadError::Source(format!("s3://{}/{key}: {e}", self.store.bucket)))
    }
}

/// Reads each platform's secret the template names: a JSON object of that platform's
/// credentials (`{"client_id", "client_secret", "refresh_token"}` for YouTube,
/// `{"access_token"}` for Vimeo, `{"app_id", "page_id", "user_token", "page_token"}`
/// for Facebook). A platform without a secret has no credentials: its destinations
/// need them (needs-auth), the others go on.
///
/// # Errors
/// [`ConfigError::Bad`] naming the setting and the secret when it cannot be read or
/// is not such an object (the reason never quotes the secret's value).
pub async fn read_credentials(
    config: &FunctionConfig,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<Credentials, ConfigError> {
    async fn read<T: serde::de::DeserializeOwned>(
        secrets: &aws_sdk_secretsmanager::Client,
        name: &'static str,
        id: &Option<String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(id) = id else { return Ok(None) };
        let bad = |reason: String| ConfigError::Bad {
            name,
            value: id.clone(),
            reason,
        };
        let text = crate::config::secret_string(secrets, name, id).await?;
        serde_json::from_str(&text).map(Some).map_err(|e| {
            bad(format!(
                "not this platform's credentials (line {}, column {}: {})",
                e.line(),
                e.column(),
                match e.classify() {
                    serde_json::error::Category::Data => "a field is missing or of the wrong type",
                    _ => "not JSON",
                }
            ))
        })
    }
    let s = &config.platform_secrets;
    Ok(Credentials {
        youtube: read::<YouTubeCredentials>(secrets, "VIDPIPE_YOUTUBE_SECRET", &s.youtube).await?,
        vimeo: read::<VimeoCredentials>(secrets, "VIDPIPE_VIMEO_SECRET", &s.vimeo).await?,
        facebook: read::<FacebookCredentials>(secrets, "VIDPIPE_FACEBOOK_SECRET", &s.facebook)
            .await?,
    })
}

/// The platforms with `credentials`, reading from `store`.
pub fn platforms(
    config: &FunctionConfig,
    store: &S3Store,
    credentials: Credentials,
) -> CloudPlatforms {
    PlatformClients::new(
        S3Objects {
            store: store.clone(),
        },
        credentials,
        &config.platform_endpoints,
        config.upload_chunk,
        HOW_TO_AUTHORISE,
    )
}

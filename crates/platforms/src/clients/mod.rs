//! The three platforms behind the publish stage's port
//! ([`vidpipe_domain::destinations::upload::Platforms`]): each step spoken in the
//! platform's own protocol, with the deployment's credentials, reading the files
//! through a [`SourceOpener`] (files locally, S3 objects by ranged GETs in the cloud).

use std::future::Future;
use std::time::{Duration, Instant};

use vidpipe_domain::destinations::upload::{
    Extra, Platforms, Readiness, Sent, UploadFailure, UploadItem,
};
use vidpipe_domain::destinations::{DestinationRequest, Platform, Privacy};

use crate::auth::Credentials;
use crate::facebook::{FacebookUploads, UploadSession};
use crate::vimeo::{UploadTicket, VimeoUploads};
use crate::youtube::{GoogleTokens, Progress, Session, YouTubeUploads};
use crate::{ByteSource, DeadlineSource, UploadError};

mod words;
pub use words::{failure, youtube_video};
use words::{language, sent, video_id, vimeo_view};

/// Opens the store's files for upload.
pub trait SourceOpener: Send + Sync {
    type Source: ByteSource;
    /// The file at `key`, read in chunks.
    fn open(&self, key: &str) -> impl Future<Output = Result<Self::Source, UploadError>> + Send;
    /// A small file (a cover, captions) whole.
    fn read_all(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, UploadError>> + Send;
}

/// Where each platform's API is: the real addresses by default, stand-ins' in tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub youtube: String,
    pub google_token: String,
    pub vimeo: String,
    pub facebook: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            youtube: "https://www.googleapis.com".into(),
            google_token: "https://oauth2.googleapis.com/token".into(),
            vimeo: "https://api.vimeo.com".into(),
            facebook: "https://graph.facebook.com/v21.0".into(),
        }
    }
}

/// Upload chunk sizes, bytes. YouTube's must be a multiple of 256 KiB (YouTube Data
/// API, "Resumable uploads"); 8 MiB is a common choice for all three.
pub const DEFAULT_CHUNK: usize = 8 << 20;

/// YouTube's category for uploads: 28, Science & Technology (videoCategories.list,
/// region US). Overridable per deployment.
pub const DEFAULT_YOUTUBE_CATEGORY: &str = "28";

/// The platforms, reached with one deployment's credentials.
pub struct PlatformClients<O> {
    pub opener: O,
    pub credentials: Credentials,
    pub youtube: YouTubeUploads,
    pub vimeo: VimeoUploads,
    pub facebook: FacebookUploads,
    pub token_url: String,
    pub youtube_category: String,
    /// How a person gives this deployment a platform's credentials, with `{}` for the
    /// platform's name (`run \`vidpipe auth {}\``).
    pub how_to_authorise: String,
    access: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl<O> std::fmt::Debug for PlatformClients<O> {
    /// The credentials as `<set>` or `<none>`, never their values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformClients")
            .field("credentials", &self.credentials)
            .field("youtube", &self.youtube.base_url)
            .field("vimeo", &self.vimeo.base_url)
            .field("facebook", &self.facebook.base_url)
            .finish()
    }
}

impl<O: SourceOpener> PlatformClients<O> {
    pub fn new(
        opener: O,
        credentials: Credentials,
        endpoints: &Endpoints,
        chunk: usize,
        how_to_authorise: &str,
    ) -> PlatformClients<O> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        PlatformClients {
            opener,
            credentials,
            youtube: YouTubeUploads {
                client: client.clone(),
                base_url: endpoints.youtube.clone(),
                chunk,
            },
            vimeo: VimeoUploads {
                client: client.clone(),
                base_url: endpoints.vimeo.clone(),
                chunk,
            },
            facebook: FacebookUploads {
                client,
                base_url: endpoints.facebook.clone(),
                chunk,
            },
            token_url: endpoints.google_token.clone(),
            youtube_category: DEFAULT_YOUTUBE_CATEGORY.into(),
            how_to_authorise: how_to_authorise.into(),
            access: tokio::sync::Mutex::new(None),
        }
    }

    fn missing(&self, platform: Platform) -> UploadFailure {
        UploadFailure::NotConfigured(format!(
            "no {} credentials: {}",
            platform.name(),
            self.how_to_authorise.replace("{}", platform.name())
        ))
    }

    /// A YouTube access token, refreshed from the refresh token when the one in hand
    /// has less than a minute left.
    async fn youtube_token(&self) -> Result<String, UploadFailure> {
        let creds = self
            .credentials
            .youtube
            .as_ref()
            .ok_or_else(|| self.missing(Platform::YouTube))?;
        let mut access = self.access.lock().await;
        if let Some((token, until)) = access.as_ref() {
            if Instant::now() + Duration::from_secs(60) < *until {
                return Ok(token.clone());
            }
        }
        let tokens = GoogleTokens {
            client: self.youtube.client.clone(),
            token_url: self.token_url.clone(),
            client_id: creds.client_id.clone(),
            client_secret: creds.client_secret.clone(),
        };
        let fresh = tokens
            .refresh(&creds.refresh_token)
            .await
            .map_err(failure)?;
        let until = Instant::now() + Duration::from_secs(fresh.expires_in_s);
        *access = Some((fresh.token.clone(), until));
        Ok(fresh.token)
    }

    fn vimeo_token(&self) -> Result<String, UploadFailure> {
        self.credentials
            .vimeo
            .as_ref()
            .map(|v| v.access_token.clone())
            .ok_or_else(|| self.missing(Platform::Vimeo))
    }

    fn facebook_creds(&self) -> Result<&crate::auth::FacebookCredentials, UploadFailure> {
        self.credentials
            .facebook
            .as_ref()
            .ok_or_else(|| self.missing(Platform::Facebook))
    }

    async fn small_file(&self, key: Option<&String>, what: &str) -> Result<Vec<u8>, UploadFailure> {
        let key =
            key.ok_or_else(|| UploadFailure::Unreadable(format!("the video has no {what}")))?;
        self.opener.read_all(key).await.map_err(failure)
    }
}

impl<O: SourceOpener> Platforms for PlatformClients<O> {
    async fn start(
        &self,
        request: &DestinationRequest,
        item: &UploadItem,
    ) -> Result<String, UploadFailure> {
        match request.to {
            Platform::YouTube => {
                let token = self.youtube_token().await?;
                let video = youtube_video(item, request, &self.youtube_category);
                let session = self
                    .youtube
                    .start(&token, &video, item.bytes, "video/mp4")
                    .await
                    .map_err(failure)?;
                Ok(session.uri)
            }
            Platform::Vimeo => {
                let token = self.vimeo_token()?;
                let ticket = match &request.replace {
                    Some(existing) => {
                        self.vimeo
                            .replace(&token, &existing.uri(), &item.file_name, item.bytes)
                            .await
                    }
                    None => {
                        self.vimeo
                            .create(
                                &token,
                                &item.title,
                                &item.description,
                                vimeo_view(request.privacy),
                                item.bytes,
                            )
                            .await
                    }
                }
                .map_err(failure)?;
                Ok(format!("{} {}", ticket.video_uri, ticket.upload_link))
            }
            Platform::Facebook => {
                let fb = self.facebook_creds()?;
                let session = self
                    .facebook
                    .start(
                        &fb.user_token,
                        &fb.app_id,
                        &item.file_name,
                        item.bytes,
                        "video/mp4",
                    )
                    .await
                    .map_err(failure)?;
                Ok(session.id)
            }
        }
    }

    async fn send(
        &self,
        request: &DestinationRequest,
        item: &UploadItem,
        session: &str,
        stop_at: Option<Instant>,
    ) -> Result<Sent, UploadFailure> {
        let file = self.opener.open(&item.key).await.map_err(failure)?;
        if file.len() != item.bytes {
            return Err(UploadFailure::Unreadable(format!(
                "{} is {} bytes, not the {} recorded",
                item.key,
                file.len(),
                item.bytes
            )));
        }
        let source = DeadlineSource::new(&file, stop_at);
        match request.to {
            Platform::YouTube => {
                let token = self.youtube_token().await?;
                let session = Session {
                    uri: session.to_string(),
                    total: item.bytes,
                };
                let from = match self.youtube.progress(&token, &session).await {
                    Ok(Progress::Next(at)) => at,
                    Ok(Progress::Done(video)) => {
                        return Ok(Sent::Complete {
                            platform_id: video_id(&video)?,
                        })
                    }
                    Err(e) => return Err(failure(e)),
                };
                let done = self
                    .youtube
                    .send(&token, &session, &source, from, |_| {})
                    .await;
                sent(done.and_then(|video| {
                    video_id(&video).map_err(|_| UploadError::Protocol(format!("no id in {video}")))
                }))
            }
            Platform::Vimeo => {
                let (uri, link) = session.split_once(' ').ok_or_else(|| {
                    UploadFailure::Protocol(format!(
                        "a Vimeo session is a URI and a link: {session:?}"
                    ))
                })?;
                let ticket = UploadTicket {
                    video_uri: uri.to_string(),
                    upload_link: link.to_string(),
                    size: item.bytes,
                };
                let from = self.vimeo.offset(&ticket).await.map_err(failure)?;
                let done = self.vimeo.send(&ticket, &source, from, |_| {}).await;
                sent(done.map(|()| ticket.video_uri.clone()))
            }
            Platform::Facebook => {
                let fb = self.facebook_creds()?;
                // `upload:<id>` while bytes move; `upload:<id> <file handle>` once all
                // are in, so that publishing is asked again without sending them.
                if let Some((_, handle)) = session.split_once(' ') {
                    let published = request.privacy == Privacy::Public;
                    let id = self
                        .facebook
                        .publish_as(
                            &fb.page_token,
                            &fb.page_id,
                            handle,
                            &item.title,
                            &item.description,
                            published,
                        )
                        .await;
                    return sent(id);
                }
                let upload = UploadSession {
                    id: session.to_string(),
                    total: item.bytes,
                };
                let from = self
                    .facebook
                    .offset(&fb.user_token, &upload)
                    .await
                    .map_err(failure)?;
                if from >= item.bytes {
                    // Every byte is in, but the file handle of the last chunk's answer
                    // was not recorded: a new session (the video was never made).
                    return Err(UploadFailure::SessionExpired);
                }
                match self
                    .facebook
                    .send(&fb.user_token, &upload, &source, from, |_| {})
                    .await
                {
                    Ok(handle) => Ok(Sent::Transferred {
                        session: format!("{session} {handle}"),
                        offset: item.bytes,
                    }),
                    Err(e) => sent(Err(e)),
                }
            }
        }
    }

    async fn status(
        &self,
        request: &DestinationRequest,
        platform_id: &str,
    ) -> Result<Readiness, UploadFailure> {
        match request.to {
            // The watch page exists once the upload ends; YouTube processes it there.
            Platform::YouTube => Ok(Readiness::Ready {
                url: format!("https://www.youtube.com/watch?v={platform_id}"),
            }),
            Platform::Vimeo => Ok(Readiness::Ready {
                url: format!(
                    "https://vimeo.com/{}",
                    platform_id.trim_start_matches("/videos/")
                ),
            }),
            Platform::Facebook => {
                let fb = self.facebook_creds()?;
                let video = self
                    .facebook
                    .video(&fb.page_token, platform_id)
                    .await
                    .map_err(failure)?;
                Ok(match video.status.as_str() {
                    "ready" => {
                        let link = video.permalink.unwrap_or_default();
                        let url = if link.starts_with('/') {
                            format!("https://www.facebook.com{link}")
                        } else {
                            link
                        };
                        Readiness::Ready { url }
                    }
                    "error" => Readiness::Failed {
                        reason: format!("Facebook could not process video {platform_id}"),
                    },
                    _ => Readiness::Processing,
                })
            }
        }
    }

    async fn extra(
        &self,
        request: &DestinationRequest,
        item: &UploadItem,
        platform_id: &str,
        extra: Extra,
    ) -> Result<(), UploadFailure> {
        let lang = language(item);
        match (request.to, extra) {
            (Platform::YouTube, Extra::Thumbnail) => {
                let token = self.youtube_token().await?;
                let image = self.small_file(item.cover_key.as_ref(), "cover").await?;
                self.youtube
                    .set_thumbnail(&token, platform_id, image, "image/jpeg")
                    .await
                    .map(|_| ())
            }
            (Platform::YouTube, Extra::Captions) => {
                let token = self.youtube_token().await?;
                let vtt = self
                    .small_file(item.captions_vtt_key.as_ref(), "captions")
                    .await?;
                self.youtube
                    .insert_captions(&token, platform_id, &lang, "Transcript", &vtt)
                    .await
                    .map(|_| ())
            }
            (Platform::YouTube, Extra::Playlist) => {
                let token = self.youtube_token().await?;
                let Some(playlist) = &request.playlist else {
                    return Ok(());
                };
                self.youtube
                    .add_to_playlist(&token, playlist, platform_id)
                    .await
                    .map(|_| ())
            }
            (Platform::Vimeo, Extra::Thumbnail) => {
                let token = self.vimeo_token()?;
                let image = self.small_file(item.cover_key.as_ref(), "cover").await?;
                self.vimeo
                    .set_picture(&token, platform_id, image, "image/jpeg")
                    .await
                    .map(|_| ())
            }
            (Platform::Vimeo, Extra::Captions) => {
                let token = self.vimeo_token()?;
                let vtt = self
                    .small_file(item.captions_vtt_key.as_ref(), "captions")
                    .await?;
                self.vimeo
                    .add_captions(&token, platform_id, &lang, "Transcript", vtt)
                    .await
                    .map(|_| ())
            }
            (Platform::Facebook, Extra::Captions) => {
                let fb = self.facebook_creds()?;
                let srt = self
                    .small_file(item.captions_srt_key.as_ref(), "captions")
                    .await?;
                let locale = if lang == "en" {
                    "en_US".to_string()
                } else {
                    format!("{lang}_{}", lang.to_uppercase())
                };
                self.facebook
                    .add_captions(&fb.page_token, platform_id, &locale, &srt)
                    .await
            }
            // Nothing to make: the port asks only for what the item has.
            _ => Ok(()),
        }
        .map_err(failure)
    }
}

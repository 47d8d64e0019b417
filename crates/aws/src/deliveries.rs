//! The talk sheet and the outbox in the cloud. Ingest looks each upload up in the
//! talk sheet (a Google Sheet; the service account's key from Secrets Manager, read
//! once per cold start); publish, once the video is published, sends each speaker and
//! the organiser one email through SES and writes the link back into the sheet, each
//! through the record's outbox (`vidpipe_domain::outbox`), so a redelivered message
//! sends nothing twice.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use tracing::{info, warn};
use vidpipe_domain::catalog::{set_entry, CatalogError, CatalogTarget};
use vidpipe_domain::events::ObjectCreated;
use vidpipe_domain::keys::{self, VideoId};
use vidpipe_domain::outbox::{Email, NotifyConfig};
use vidpipe_domain::ports::{LinkWriter, Mailer, ObjectReader};
use vidpipe_domain::sidecar::Sidecar;
use vidpipe_domain::stages::{self, NotifyReport, TalkMatch};
use vidpipe_domain::talks::{SheetError, TalkRef};
use vidpipe_domain::{PortError, StageError};
use vidpipe_sheets::google::GoogleSheets;

use crate::config::{ConfigError, FunctionConfig};
use crate::error::{port_error, service_code};
use crate::records::DynamoRecords;
use crate::s3::S3Store;

/// SES errors that no retry fixes (Amazon SES API v2 Reference, SendEmail, Errors):
/// the message or an address refused, the sender not verified.
const REFUSED_CODES: &[&str] = &[
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "BadRequestException",
    "AccountSuspendedException",
    "NotFoundException",
];

/// Sends email through SES v2 (`SendEmail`, simple content: text and HTML).
#[derive(Clone, Debug)]
pub struct SesMailer {
    pub ses: aws_sdk_sesv2::Client,
    /// A verified identity (`VIDPIPE_SENDER_EMAIL`).
    pub sender: String,
}

impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<(), PortError> {
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| PortError::Invalid(format!("email content: {e}")))
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text)?)
                    .html(content(&email.html)?)
                    .build(),
            )
            .build();
        let result = self
            .ses
            .send_email()
            .from_email_address(&self.sender)
            .destination(
                Destination::builder()
                    .to_addresses(&email.to_address)
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let refused = service_code(&e).is_some_and(|c| REFUSED_CODES.contains(&c));
                let error = port_error(&format!("ses SendEmail to {}", email.to_address), e);
                Err(if refused {
                    PortError::Invalid(error.to_string())
                } else {
                    error
                })
            }
        }
    }
}

/// The deployment's talk sheet and the client that reads it.
#[derive(Debug)]
pub struct CloudTalkSheet {
    /// `gsheet:<spreadsheet id>`.
    pub sheet: String,
    pub google: GoogleSheets,
}

impl CloudTalkSheet {
    /// The talk sheet the template names, with the service account key read from
    /// Secrets Manager; `None` when no sheet is configured.
    ///
    /// # Errors
    /// [`ConfigError`] when a sheet is named without a key secret, the secret cannot be
    /// read, or it is not a service account key (the key itself is never shown).
    pub async fn from_config(
        config: &FunctionConfig,
        secrets: &aws_sdk_secretsmanager::Client,
    ) -> Result<Option<CloudTalkSheet>, ConfigError> {
        let Some(sheet) = &config.talk_sheet else {
            return Ok(None);
        };
        if !sheet.starts_with("gsheet:") {
            return Err(ConfigError::Bad {
                name: "VIDPIPE_TALK_SHEET",
                value: sheet.clone(),
                reason: "in the cloud the talk sheet is a Google Sheet: gsheet:<spreadsheet id>"
                    .into(),
            });
        }
        let secret_id =
            FunctionConfig::require(&config.google_key_secret, "VIDPIPE_GOOGLE_KEY_SECRET")?;
        let name = "VIDPIPE_GOOGLE_KEY_SECRET";
        let json = crate::config::secret_string(secrets, name, secret_id).await?;
        let google = GoogleSheets::from_key_json(&json, &config.sheets_api).map_err(|e| {
            ConfigError::Bad {
                name,
                value: secret_id.to_string(),
                reason: e.to_string(),
            }
        })?;
        Ok(Some(CloudTalkSheet {
            sheet: sheet.clone(),
            google,
        }))
    }

    /// The upload's row, found by its sidecar's title, then its file name (the key's
    /// last part). For a sidecar that arrives after its video (ingest then takes the
    /// video again), the row of the video it describes. `None` for a key ingest
    /// refuses anyway.
    pub async fn lookup(
        &self,
        store: &S3Store,
        upload: &ObjectCreated,
    ) -> Option<Result<TalkMatch, SheetError>> {
        if keys::unsafe_key_reason(&upload.key).is_some() {
            return None;
        }
        let is_sidecar = keys::extension_of(&upload.key)? == "json";
        let sidecar_key = if is_sidecar {
            upload.key.clone()
        } else {
            keys::sidecar_key_for(&upload.key)
        };
        let title = match store.get(&sidecar_key).await {
            Ok(bytes) => Sidecar::parse(&sidecar_key, &bytes)
                .ok()
                .and_then(|s| s.title),
            Err(PortError::NotFound(_)) => None,
            Err(e) => {
                warn!(key = %sidecar_key, error = %e, "sidecar unreadable; the sheet is searched by file name");
                None
            }
        };
        let name = upload.key.rsplit('/').next().unwrap_or(&upload.key);
        let file = match name.strip_suffix(".json") {
            Some(stem) if is_sidecar => stem,
            _ => name,
        };
        let wanted: Vec<&str> = title.as_deref().into_iter().chain([file]).collect();
        Some(vidpipe_sheets::find_talk(&self.sheet, None, Some(&self.google), &wanted).await)
    }
}

/// What the publish function sends and writes once a video is published.
#[derive(Debug, Default)]
pub struct Deliveries {
    /// SES, when a sender is configured.
    pub mailer: Option<SesMailer>,
    pub organiser: Option<String>,
    /// The talk sheet, when one is configured.
    pub sheet: Option<CloudTalkSheet>,
    /// S3, for dataset catalogs named by sidecars (`s3://bucket/key`).
    pub s3: Option<aws_sdk_s3::Client>,
}

/// Times a catalog write is redone after another writer changed the catalog first.
pub const CATALOG_ATTEMPTS: usize = 10;

/// The cloud's writer: links into the Google talk sheet, entries into S3 catalogs.
pub struct CloudLinks<'a> {
    pub google: Option<&'a GoogleSheets>,
    pub s3: Option<&'a aws_sdk_s3::Client>,
}

impl LinkWriter for CloudLinks<'_> {
    async fn write_link(&self, talk: &TalkRef, link: &str) -> Result<(), PortError> {
        match self.google {
            Some(g) => g.write_link(talk, link).await,
            None => Err(PortError::Unavailable(format!(
                "{}: no talk sheet is configured",
                talk.sheet
            ))),
        }
    }

    /// Reads the catalog and its ETag, edits the entry (`set_entry`) and writes it back
    /// only if the ETag is still the same (`If-Match`, S3 conditional writes; Amazon
    /// S3 User Guide, "Conditional requests"); on `412 Precondition Failed` reads it
    /// again, up to [`CATALOG_ATTEMPTS`] times.
    async fn write_catalog(
        &self,
        target: &CatalogTarget,
        link: Option<&str>,
    ) -> Result<(), PortError> {
        let Some((bucket, key)) = target
            .catalog
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        else {
            return Err(PortError::Invalid(format!(
                "{}: in the cloud a catalog is s3://bucket/key",
                target.catalog
            )));
        };
        let s3 = self
            .s3
            .ok_or_else(|| PortError::Unavailable("no S3 client".into()))?;
        let update = target.update(link);
        for attempt in 1..=CATALOG_ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(std::time::Duration::from_millis(25 * attempt as u64)).await;
            }
            let (bytes, e_tag) = crate::s3::get_object(s3, bucket, key).await?;
            let edited = set_entry(&target.catalog, &bytes, &target.dataset_id, &update).map_err(
                |e| match e {
                    CatalogError::NoDataset { .. } => PortError::NotFound(e.to_string()),
                    _ => PortError::Invalid(e.to_string()),
                },
            )?;
            let Some(new) = edited else {
                return Ok(());
            };
            let mut put = s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/json")
                .body(new.into());
            if let Some(tag) = e_tag {
                put = put.if_match(tag);
            }
            match put.send().await {
                Ok(_) => {
                    info!(catalog = %target.catalog, dataset = %target.dataset_id, attempt, "catalog entry written");
                    return Ok(());
                }
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
                    warn!(catalog = %target.catalog, attempt, "another writer changed the catalog first; reading it again");
                }
                Err(e) => return Err(port_error("s3 PutObject (catalog)", e)),
            }
        }
        Err(PortError::Unavailable(format!(
            "{}: another writer kept changing it; gave up after {CATALOG_ATTEMPTS} attempts",
            target.catalog
        )))
    }
}

impl Deliveries {
    /// Runs the notify stage for one published video.
    ///
    /// # Errors
    /// The record store's.
    pub async fn notify(
        &self,
        records: &DynamoRecords,
        id: &VideoId,
    ) -> Result<NotifyReport, StageError> {
        let config = NotifyConfig {
            email: self.mailer.is_some(),
            organiser: self.organiser.clone(),
            sheet_write_back: self.sheet.is_some(),
            catalog_write_back: self.s3.is_some(),
        };
        let writer = CloudLinks {
            google: self.sheet.as_ref().map(|s| &s.google),
            s3: self.s3.as_ref(),
        };
        stages::notify(records, self.mailer.as_ref(), Some(&writer), &config, id).await
    }
}

//! The talk sheet and the outbox in the cloud. Ingest looks each upload up in the
//! talk sheet (a Google Sheet; the service account's key from Secrets Manager, read
//! once per cold start); publish, once the video is published, sends each speaker and
//! the organiser one email through SES and writes the link back into the sheet, each
//! through the record's outbox (`vidpipe_domain::outbox`), so a redelivered message
//! sends nothing twice.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use tracing::warn;
use vidpipe_domain::events::ObjectCreated;
use vidpipe_domain::keys::{self, VideoId};
use vidpipe_domain::outbox::{Email, NotifyConfig};
use vidpipe_domain::ports::{Mailer, ObjectReader};
use vidpipe_domain::sidecar::Sidecar;
use vidpipe_domain::stages::{self, NotifyReport, TalkMatch};
use vidpipe_domain::talks::SheetError;
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
        let bad = |reason: String| ConfigError::Bad {
            name: "VIDPIPE_GOOGLE_KEY_SECRET",
            value: secret_id.to_string(),
            reason,
        };
        let secret = secrets
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| bad(port_error("secretsmanager GetSecretValue", e).to_string()))?;
        let json = secret
            .secret_string()
            .ok_or_else(|| bad("the secret has no string value".into()))?;
        let google = GoogleSheets::from_key_json(json, &config.sheets_api)
            .map_err(|e| bad(e.to_string()))?;
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
        };
        let writer = self.sheet.as_ref().map(|s| &s.google);
        stages::notify(records, self.mailer.as_ref(), writer, &config, id).await
    }
}

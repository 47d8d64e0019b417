//! Email over SMTP with lettre: the speaker emails and the organiser's notices of the
//! local mode.
//!
//! The server is a URL (`VIDPIPE_SMTP_URL`):
//! - `smtp://host:25`: STARTTLS when the server offers it;
//! - `smtp://user:pass@host:587`: STARTTLS required (credentials never travel in
//!   clear); `?tls=opportunistic` or `?tls=required` says it explicitly;
//! - `smtps://user:pass@host:465`: TLS from the first byte.
//!
//! Replies are sorted as RFC 5321 §4.2.1 defines them: a 5xx (a recipient refused, a
//! malformed address) is permanent and recorded; a 4xx, a timeout or a server that
//! cannot be reached is transient and leaves the email for the next run.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tracing::warn;
use vidpipe_domain::outbox::{organiser_notice, Email};
use vidpipe_domain::ports::{Mailer, Notifier};
use vidpipe_domain::record::{Stage, VideoRecord};
use vidpipe_domain::PortError;

/// How long one SMTP exchange may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends email through one SMTP server, from one sender.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The URL without its password, for messages.
    server: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpMailer({}, from {})", self.server, self.from)
    }
}

/// Why the SMTP settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("the SMTP URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("the sender {sender:?}: {reason}")]
    BadSender { sender: String, reason: String },
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from` (`vidpipe <talks@example.org>`
    /// or a bare address). Nothing is connected until the first email.
    ///
    /// # Errors
    /// [`MailSetupError`] naming the URL (its password hidden) or the sender.
    pub fn new(url: &str, from: &str) -> Result<SmtpMailer, MailSetupError> {
        let server = without_password(url);
        let bad = |reason: String| MailSetupError::BadUrl {
            url: server.clone(),
            reason,
        };
        let mut url = url.to_string();
        if url.starts_with("smtp://") && !url.contains("tls=") {
            let has_credentials = url["smtp://".len()..]
                .split('/')
                .next()
                .is_some_and(|a| a.contains('@'));
            let tls = if has_credentials {
                "required"
            } else {
                "opportunistic"
            };
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("tls=");
            url.push_str(tls);
        } else if !url.starts_with("smtps://") && !url.starts_with("smtp://") {
            return Err(bad("must start with smtp:// or smtps://".into()));
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| bad(e.to_string()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| MailSetupError::BadSender {
                sender: from.to_string(),
                reason: e.to_string(),
            })?;
        Ok(SmtpMailer {
            transport,
            from,
            server,
        })
    }
}

/// `url` with the password replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let path = if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            };
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_string(),
    }
}

impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), PortError> {
        let address = email.to_address.parse().map_err(|e| {
            PortError::Invalid(format!(
                "{:?} is not an email address: {e}",
                email.to_address
            ))
        })?;
        let to = Mailbox::new(email.to_name.clone(), address);
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| PortError::Invalid(format!("the email to {}: {e}", email.to_address)))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(PortError::Invalid(format!(
                "{} refused the email to {}: {e}",
                self.server, email.to_address
            ))),
            Err(e) => Err(PortError::Unavailable(format!("{}: {e}", self.server))),
        }
    }
}

/// Logs what happened (as [`crate::LogNotifier`]) and tells the organiser, by email,
/// that a video failed, when both a mail server and an organiser are configured. (The
/// published notice goes through the outbox, exactly once.)
pub struct MailNotifier<'a> {
    pub mailer: Option<&'a SmtpMailer>,
    pub organiser: Option<String>,
}

impl Notifier for MailNotifier<'_> {
    async fn published(&self, record: &VideoRecord) -> Result<(), PortError> {
        crate::LogNotifier.published(record).await
    }

    async fn failed(
        &self,
        record: &VideoRecord,
        stage: Stage,
        reason: &str,
    ) -> Result<(), PortError> {
        crate::LogNotifier.failed(record, stage, reason).await?;
        let (Some(mailer), Some(organiser)) = (self.mailer, &self.organiser) else {
            return Ok(());
        };
        let email = organiser_notice(record, organiser, Some((stage.as_str(), reason)));
        if let Err(e) = mailer.send(&email).await {
            warn!(video_id = %record.id, error = %e, "the organiser was not told of the failure");
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            without_password("smtp://ann:s3cret@mail.example.org:587"),
            "smtp://ann:***@mail.example.org:587"
        );
        assert_eq!(
            without_password("smtp://127.0.0.1:2525"),
            "smtp://127.0.0.1:2525"
        );
        let err = SmtpMailer::new("http://ann:s3cret@x", "a@b.org")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret") && err.contains("smtp://"), "{err}");
        let err = SmtpMailer::new("smtp://127.0.0.1:25", "not an address")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an address"), "{err}");
    }
}

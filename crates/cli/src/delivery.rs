//! What the local mode sends and writes once a video is published: the SMTP server,
//! sender and organiser; the Google service account for `gsheet:` sheets; the notify
//! stage run with them, and its report.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::outbox::NotifyConfig;
use vidpipe_domain::stages::{self, NotifyReport};
use vidpipe_local::{MailNotifier, SmtpMailer, SqliteRecords};
use vidpipe_sheets::google::{GoogleSheets, API_BASE};
use vidpipe_sheets::SheetLinks;

#[derive(clap::Args, Clone, Debug)]
pub struct DeliveryArgs {
    /// SMTP server for the speaker emails and the organiser's notices:
    /// smtp://[user:pass@]host[:port] (STARTTLS) or smtps://… (TLS). None: no emails.
    #[arg(long, env = "VIDPIPE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The emails' sender, e.g. "Talks team <talks@example.org>".
    #[arg(long, env = "VIDPIPE_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// The organiser's address: told of every video published or failed.
    #[arg(long, env = "VIDPIPE_ORGANISER")]
    pub organiser: Option<String>,
    /// A Google service account's JSON key, for talk sheets named gsheet:<id> (the
    /// sheet must be shared with the account's email).
    #[arg(long, env = "VIDPIPE_GOOGLE_KEY")]
    pub google_key: Option<PathBuf>,
    /// The Sheets API's root URL.
    #[arg(long, env = "VIDPIPE_SHEETS_API", default_value = API_BASE, hide = true)]
    pub sheets_api: String,
}

/// The configured senders and writers.
pub struct Delivery {
    pub mailer: Option<SmtpMailer>,
    pub organiser: Option<String>,
    pub links: SheetLinks,
}

impl DeliveryArgs {
    /// No mail server, organiser or Google key.
    pub fn none() -> DeliveryArgs {
        DeliveryArgs {
            smtp_url: None,
            mail_from: None,
            organiser: None,
            google_key: None,
            sheets_api: API_BASE.to_string(),
        }
    }

    /// # Errors
    /// A bad SMTP URL or sender, an SMTP server without a sender, an unreadable key.
    pub fn open(&self) -> Result<Delivery> {
        let mailer = match (&self.smtp_url, &self.mail_from) {
            (Some(url), Some(from)) => Some(SmtpMailer::new(url, from)?),
            (Some(_), None) => {
                bail!("an SMTP server needs a sender: --mail-from or VIDPIPE_MAIL_FROM")
            }
            (None, _) => None,
        };
        if let Some(o) = &self.organiser {
            if !vidpipe_domain::talks::looks_like_address(o) {
                bail!("--organiser {o:?}: not an email address");
            }
        }
        let google = match &self.google_key {
            Some(path) => {
                let json = std::fs::read_to_string(path).with_context(|| {
                    format!("{}: cannot read the service account key", path.display())
                })?;
                Some(GoogleSheets::from_key_json(&json, &self.sheets_api)?)
            }
            None => None,
        };
        Ok(Delivery {
            mailer,
            organiser: self.organiser.clone(),
            links: SheetLinks { google },
        })
    }
}

impl Delivery {
    pub fn config(&self) -> NotifyConfig {
        NotifyConfig {
            email: self.mailer.is_some(),
            organiser: self.organiser.clone(),
            sheet_write_back: true,
            catalog_write_back: true,
        }
    }

    /// The notifier for the pipeline run: logs, and emails the organiser a failure.
    pub fn notifier(&self) -> MailNotifier<'_> {
        MailNotifier {
            mailer: self.mailer.as_ref(),
            organiser: self.organiser.clone(),
        }
    }

    /// Runs the notify stage for one video.
    pub async fn notify(&self, records: &SqliteRecords, id: &VideoId) -> Result<NotifyReport> {
        let report = stages::notify(
            records,
            self.mailer.as_ref(),
            Some(&self.links),
            &self.config(),
            id,
        )
        .await?;
        Ok(report)
    }
}

/// One line per delivery made, deferred or refused; whether anything is left undone.
pub fn print_report(report: &NotifyReport) -> bool {
    for target in &report.sent {
        println!("  sent    {target}");
    }
    for target in &report.repeated {
        println!(
            "  note    {target}: sent again (a run had stopped between sending and recording it)"
        );
    }
    for (target, why) in &report.deferred {
        println!("  waiting {target}: {why} (run `vidpipe publish --due` later)");
    }
    for (target, why) in &report.failed {
        println!("  refused {target}: {why}");
    }
    report.deferred.is_empty() && report.failed.is_empty()
}

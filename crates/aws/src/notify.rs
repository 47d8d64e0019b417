//! Telling people: an SNS notice for every published or failed video (subscribe a
//! team's email, chat or pager to the topic), and an SES email to each speaker with
//! an address in the sidecar. Also the "none" publishing destination: platform
//! uploads (YouTube, Vimeo, …) are another port's job; the links published are
//! presigned links to the video's own files.

use std::time::Duration;

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use serde_json::json;
use tracing::{info, warn};
use vidpipe_domain::keys;
use vidpipe_domain::ports::{Notifier, Publisher};
use vidpipe_domain::record::{OutputKind, Stage, VideoRecord};
use vidpipe_domain::PortError;

use crate::error::port_error;
use crate::s3::S3Store;

/// SNS subjects: ASCII, no line breaks, at most 100 characters (Amazon SNS API
/// Reference, Publish, `Subject`).
pub fn sns_subject(text: &str) -> String {
    let mut subject: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if subject.len() > 100 {
        subject.truncate(97);
        subject.push_str("...");
    }
    subject
}

#[derive(Clone, Debug)]
pub struct CloudNotifier {
    pub sns: aws_sdk_sns::Client,
    pub topic_arn: String,
    pub ses: aws_sdk_sesv2::Client,
    /// `None`: no emails (SNS only).
    pub sender_email: Option<String>,
}

/// The email a speaker gets: subject and plain-text body.
pub fn speaker_email(record: &VideoRecord, speaker_name: &str) -> (String, String) {
    let title = record.title();
    let mut body = format!("Hello {speaker_name},\n\n\"{title}\" is published.\n\n");
    if let Some(d) = &record.description {
        body.push_str(d);
        body.push_str("\n\n");
    }
    for link in &record.links {
        body.push_str(link);
        body.push('\n');
    }
    body.push_str("\nThank you for speaking.\n");
    (format!("Your talk is published: {title}"), body)
}

impl Notifier for CloudNotifier {
    async fn published(&self, record: &VideoRecord) -> Result<(), PortError> {
        let notice = json!({
            "event": "published",
            "video_id": record.id.as_str(),
            "title": record.title(),
            "links": record.links,
            "hashtags": record.hashtags,
        });
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sns_subject(&format!(
                "vidpipe: published {}",
                record.title()
            )))
            .message(notice.to_string())
            .send()
            .await
            .map_err(|e| port_error("sns Publish", e))?;
        let speakers = record.sidecar.iter().flat_map(|s| s.speakers.iter());
        for speaker in speakers {
            let Some(to) = speaker.email.as_deref() else {
                continue;
            };
            let Some(from) = self.sender_email.as_deref() else {
                warn!(video_id = %record.id, "no sender address configured; speakers not emailed");
                break;
            };
            let (subject, text) = speaker_email(record, &speaker.name);
            let content = |data: String| {
                Content::builder()
                    .data(data)
                    .charset("UTF-8")
                    .build()
                    .map_err(|e| PortError::Failed(format!("email content: {e}")))
            };
            let message = Message::builder()
                .subject(content(subject)?)
                .body(Body::builder().text(content(text)?).build())
                .build();
            // One failed address does not stop the others: the publish is recorded
            // either way, and the failure is in the log.
            match self
                .ses
                .send_email()
                .from_email_address(from)
                .destination(Destination::builder().to_addresses(to).build())
                .content(EmailContent::builder().simple(message).build())
                .send()
                .await
            {
                Ok(_) => info!(video_id = %record.id, to, "speaker emailed"),
                Err(e) => {
                    warn!(video_id = %record.id, to, error = %port_error("ses SendEmail", e), "speaker not emailed")
                }
            }
        }
        Ok(())
    }

    async fn failed(
        &self,
        record: &VideoRecord,
        stage: Stage,
        reason: &str,
    ) -> Result<(), PortError> {
        let notice = json!({
            "event": "failed",
            "video_id": record.id.as_str(),
            "title": record.title(),
            "source": record.source,
            "stage": stage.as_str(),
            "reason": reason,
        });
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sns_subject(&format!(
                "vidpipe: {stage} failed for {}",
                record.title()
            )))
            .message(notice.to_string())
            .send()
            .await
            .map_err(|e| port_error("sns Publish", e))?;
        Ok(())
    }
}

/// The "none" destination: nothing is uploaded anywhere; the links are presigned
/// GETs of the largest rendition, the promo clip and the cover.
///
/// Presigned links last at most `expiry`, and never longer than the credentials that
/// signed them: under a Lambda role that is the role session (hours). A deployment
/// that emails links meant to last should put a CloudFront distribution in front of
/// `media/` and publish its URLs instead.
pub struct LinksPublisher<'a> {
    pub store: &'a S3Store,
    pub expiry: Duration,
}

impl Publisher for LinksPublisher<'_> {
    async fn publish(&self, record: &VideoRecord) -> Result<Vec<String>, PortError> {
        let mut keys_to_link: Vec<String> = Vec::new();
        if let Some(r) = record
            .outputs
            .iter()
            .find(|o| o.kind == OutputKind::Rendition)
        {
            keys_to_link.push(r.key.clone());
        } else if let Some(a) = record.outputs.iter().find(|o| o.kind == OutputKind::Mp3) {
            keys_to_link.push(a.key.clone());
        }
        for kind in [OutputKind::Promo, OutputKind::Cover] {
            if let Some(o) = record.outputs.iter().find(|o| o.kind == kind) {
                keys_to_link.push(o.key.clone());
            }
        }
        if keys_to_link.is_empty() {
            keys_to_link.push(keys::manifest(&record.id));
        }
        let mut links = Vec::new();
        for key in keys_to_link {
            links.push(self.store.presigned_get(&key, self.expiry).await?);
        }
        Ok(links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_ascii_and_short() {
        assert_eq!(
            sns_subject("vidpipe: published Café"),
            "vidpipe: published Caf?"
        );
        let long = sns_subject(&"x".repeat(150));
        assert_eq!(long.len(), 100);
        assert!(long.ends_with("..."));
        assert_eq!(sns_subject("a\nb"), "a?b");
    }
}

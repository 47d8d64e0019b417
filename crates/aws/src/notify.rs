//! Telling people: an SNS notice for every published or failed video (subscribe a
//! team's email, chat or pager to the topic), and an SES email to the organiser when
//! a video fails (the speakers' and organiser's emails for a published video go
//! through the outbox: `crate::deliveries`), naming each platform the video went to and
//! where it stands. Also the video's own links: presigned links to its files (the
//! platform uploads are `crate::platforms`').

use std::time::Duration;

use serde_json::json;
use tracing::warn;
use vidpipe_domain::outbox::organiser_notice;
use vidpipe_domain::ports::{Mailer, Notifier, Publisher};
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
    /// SES and the organiser's address, for the email telling of a failure (the
    /// published notice goes through the outbox, exactly once).
    pub organiser_mail: Option<(crate::deliveries::SesMailer, String)>,
}

impl Notifier for CloudNotifier {
    async fn published(&self, record: &VideoRecord) -> Result<(), PortError> {
        let notice = json!({
            "event": "published",
            "video_id": record.id.as_str(),
            "title": record.title(),
            "links": record.links,
            "hashtags": record.hashtags,
            "destinations": record.destinations.iter().map(|d| json!({
                "to": d.label(),
                "state": d.state_name(),
                "detail": d.describe(),
            })).collect::<Vec<_>>(),
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
        if let Some((mailer, organiser)) = &self.organiser_mail {
            let email = organiser_notice(record, organiser, Some((stage.as_str(), reason)));
            if let Err(e) = mailer.send(&email).await {
                warn!(video_id = %record.id, error = %e, "the organiser was not emailed the failure");
            }
        }
        Ok(())
    }
}

/// The "none" destination: nothing is uploaded anywhere; the links are to the
/// largest rendition, the promo clip and the cover: on `base_url` (the template's
/// CloudFront distribution in front of `media/`) where there is one, else presigned
/// GETs.
///
/// Presigned links last at most `expiry`, and never longer than the credentials that
/// signed them: under a Lambda role that is the role session (hours); links on the
/// distribution last as long as the files.
pub struct LinksPublisher<'a> {
    pub store: &'a S3Store,
    pub expiry: Duration,
    /// `https://d….cloudfront.net`, no trailing slash.
    pub base_url: Option<String>,
}

/// Every byte of a key but these is percent-encoded in a link's path.
const PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl LinksPublisher<'_> {
    async fn link(&self, key: &str) -> Result<String, PortError> {
        match &self.base_url {
            Some(base) => Ok(format!(
                "{base}/{}",
                percent_encoding::utf8_percent_encode(key, PATH)
            )),
            None => self.store.presigned_get(key, self.expiry).await,
        }
    }
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
            keys_to_link.push(record.keys().manifest());
        }
        let mut links = Vec::new();
        for key in keys_to_link {
            links.push(self.link(&key).await?);
        }
        Ok(links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(key: String, kind: OutputKind) -> vidpipe_domain::record::OutputFile {
        vidpipe_domain::record::OutputFile {
            key,
            kind,
            name: None,
            codec: "h264+aac".into(),
            width_px: None,
            height_px: None,
            bitrate_bps: None,
            duration_s: None,
            bytes: 1,
        }
    }

    /// With the template's distribution, links are its URLs (they last); without it,
    /// presigned S3 GETs that expire.
    #[tokio::test]
    async fn links_are_on_the_distribution_where_there_is_one() {
        let sdk = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "k", "s", None, None, "t",
            ))
            .build();
        let store = S3Store::new(aws_sdk_s3::Client::from_conf(sdk), "vidpipe-media");
        let id = vidpipe_domain::keys::VideoId::parse("0123456789abcdef").unwrap();
        let mut record = VideoRecord::new(id.clone(), "uploads/talk.mp4", "talk.mp4");
        record.outputs = vec![
            output(
                format!("media/{id}/rendition_1080p.mp4"),
                OutputKind::Rendition,
            ),
            output(format!("media/{id}/promo clip.mp4"), OutputKind::Promo),
            output(format!("media/{id}/cover.jpg"), OutputKind::Cover),
        ];
        let mut publisher = LinksPublisher {
            store: &store,
            expiry: Duration::from_secs(3600),
            base_url: Some("https://d111111abcdef8.cloudfront.net".into()),
        };
        assert_eq!(
            publisher.publish(&record).await.unwrap(),
            [
                format!("https://d111111abcdef8.cloudfront.net/media/{id}/rendition_1080p.mp4"),
                format!("https://d111111abcdef8.cloudfront.net/media/{id}/promo%20clip.mp4"),
                format!("https://d111111abcdef8.cloudfront.net/media/{id}/cover.jpg"),
            ]
        );
        publisher.base_url = None;
        let presigned = publisher.publish(&record).await.unwrap();
        assert!(
            presigned[0].contains("X-Amz-Expires=3600"),
            "{}",
            presigned[0]
        );
    }

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

//! The outbox: every message vidpipe sends about a published video (an email to each
//! speaker, a notice to the organiser) and every cell it writes back (the talk sheet's
//! link), recorded on the video before it is made and marked after.
//!
//! Each delivery has an idempotency key (SHA-256 of the video id, the recipient or
//! target, and the sorted links), so a replayed publish event finds the delivery
//! already there and sends nothing new; new links (a re-publish) make a new key and a
//! new message. The guarantee is at-least-once with at most one repeat per crash: a
//! delivery is marked [`DeliveryState::Sending`] before the message leaves and
//! [`DeliveryState::Sent`] after; a crash between the two leaves it `Sending`, and the
//! next run sends it again and says so in the log.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::record::{now_unix_s, VideoRecord};

/// What one delivery is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DeliveryKind {
    /// The email to one speaker.
    SpeakerEmail { name: String, address: String },
    /// The notice to the organiser that the video is published.
    OrganiserNotice { address: String },
    /// The link written into the video's talk-sheet row.
    SheetLink { link: String },
    /// The period and link written into a dataset catalog's entry (the sidecar's
    /// `catalog`); `link` is the first web link, if the video has one.
    CatalogEntry {
        catalog: String,
        dataset_id: String,
        link: Option<String>,
    },
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Recorded, not yet attempted, or deferred (the server was down, the sheet locked).
    Pending,
    /// Being sent; still so after a crash between sending and recording.
    Sending,
    Sent,
    /// Refused for good (a bad address, a rejected recipient); the detail says why.
    Failed,
}

/// One message or write, as recorded on the video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The idempotency key: 64 hex digits.
    pub key: String,
    #[serde(flatten)]
    pub kind: DeliveryKind,
    pub state: DeliveryState,
    /// Why it is pending again or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Times it was handed to the mail server or the sheet (a repeat after a crash
    /// makes it 2).
    #[serde(default)]
    pub attempts: u32,
    pub updated_at_unix_s: u64,
}

impl Delivery {
    fn new(video: &VideoRecord, kind: DeliveryKind) -> Delivery {
        let target = match &kind {
            DeliveryKind::SpeakerEmail { address, .. } => {
                format!("speaker:{}", address.to_lowercase())
            }
            DeliveryKind::OrganiserNotice { address } => {
                format!("organiser:{}", address.to_lowercase())
            }
            DeliveryKind::SheetLink { link } => format!("sheet:{link}"),
            DeliveryKind::CatalogEntry {
                catalog,
                dataset_id,
                ..
            } => {
                let period = video
                    .sidecar
                    .as_ref()
                    .and_then(|s| s.catalog.as_ref())
                    .map(|c| format!("{}/{}", c.start, c.end))
                    .unwrap_or_default();
                format!("catalog:{catalog}#{dataset_id}@{period}")
            }
        };
        let mut links = video.links.clone();
        links.sort();
        let mut hash = Sha256::new();
        for part in [video.id.as_str(), &target, &links.join("\n")] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        Delivery {
            key: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
            kind,
            state: DeliveryState::Pending,
            detail: None,
            attempts: 0,
            updated_at_unix_s: now_unix_s(),
        }
    }

    /// Whether a run should (still) make it.
    pub fn is_due(&self) -> bool {
        matches!(self.state, DeliveryState::Pending | DeliveryState::Sending)
    }

    pub fn set(&mut self, state: DeliveryState, detail: Option<String>) {
        self.state = state;
        self.detail = detail;
        self.updated_at_unix_s = now_unix_s();
    }

    /// Who or what it goes to, for logs and reports.
    pub fn target(&self) -> String {
        match &self.kind {
            DeliveryKind::SpeakerEmail { name, address } => format!("{name} <{address}>"),
            DeliveryKind::OrganiserNotice { address } => format!("organiser <{address}>"),
            DeliveryKind::SheetLink { .. } => "the link to the talk sheet".to_string(),
            DeliveryKind::CatalogEntry {
                catalog,
                dataset_id,
                ..
            } => format!("dataset {dataset_id} in {catalog}"),
        }
    }
}

/// Who gets what, beyond the speakers: the deployment's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotifyConfig {
    /// Whether emails can be sent here (an SMTP server or SES sender is configured).
    pub email: bool,
    /// The organiser's address, told of every published or failed video.
    pub organiser: Option<String>,
    /// Whether the talk sheet's row gets the link.
    pub sheet_write_back: bool,
    /// Whether a sidecar's `catalog` entry is written (a catalog writer is wired).
    #[serde(default)]
    pub catalog_write_back: bool,
}

/// The deliveries a published video calls for: one email per speaker with an address
/// (addresses compared without case, so a speaker listed twice gets one), the
/// organiser's notice, the sheet's link. Empty until the video has links.
pub fn deliveries_for(video: &VideoRecord, config: &NotifyConfig) -> Vec<Delivery> {
    let Some(link) = video.links.first() else {
        return Vec::new();
    };
    let mut out: Vec<Delivery> = Vec::new();
    if config.email {
        let speakers = video.sidecar.iter().flat_map(|s| s.speakers.iter());
        for s in speakers {
            if let Some(address) = &s.email {
                let d = Delivery::new(
                    video,
                    DeliveryKind::SpeakerEmail {
                        name: s.name.clone(),
                        address: address.trim().to_string(),
                    },
                );
                if !out.iter().any(|o| o.key == d.key) {
                    out.push(d);
                }
            }
        }
        if let Some(address) = &config.organiser {
            out.push(Delivery::new(
                video,
                DeliveryKind::OrganiserNotice {
                    address: address.clone(),
                },
            ));
        }
    }
    if config.sheet_write_back && video.talk.is_some() {
        out.push(Delivery::new(
            video,
            DeliveryKind::SheetLink { link: link.clone() },
        ));
    }
    let target = video.sidecar.as_ref().and_then(|s| s.catalog.as_ref());
    if let Some(target) = target.filter(|_| config.catalog_write_back) {
        let web = video
            .links
            .iter()
            .find(|l| l.starts_with("https://") || l.starts_with("http://"));
        out.push(Delivery::new(
            video,
            DeliveryKind::CatalogEntry {
                catalog: target.catalog.clone(),
                dataset_id: target.dataset_id.clone(),
                link: web.cloned(),
            },
        ));
    }
    out
}

/// An email as composed: plain text and HTML of the same content.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub to_name: Option<String>,
    pub to_address: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// `&`, `<`, `>`, `"` and `'` as HTML entities.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The email to one speaker: a greeting by name, the talk's title, its links and the
/// description.
pub fn speaker_email(video: &VideoRecord, name: &str, address: &str) -> Email {
    let title = video.title();
    let description = video.description.clone().unwrap_or_default();
    let mut text = format!("Hello {name},\n\nyour talk \"{title}\" is published:\n\n");
    let mut html = format!(
        "<p>Hello {},</p>\n<p>your talk <strong>{}</strong> is published:</p>\n<ul>\n",
        escape_html(name),
        escape_html(&title)
    );
    for link in &video.links {
        text.push_str(&format!("  {link}\n"));
        let l = escape_html(link);
        html.push_str(&format!("<li><a href=\"{l}\">{l}</a></li>\n"));
    }
    html.push_str("</ul>\n");
    if !description.is_empty() {
        text.push_str(&format!("\n{description}\n"));
        html.push_str(&format!(
            "<p>{}</p>\n",
            escape_html(&description).replace('\n', "<br>\n")
        ));
    }
    text.push_str("\nThank you for speaking.\n");
    html.push_str("<p>Thank you for speaking.</p>\n");
    Email {
        to_name: Some(name.to_string()),
        to_address: address.to_string(),
        subject: format!("Your talk is published: {title}"),
        text,
        html,
    }
}

/// The organiser's notice: published (with the links and who was emailed), or failed
/// with the stage and reason when `failure` is given.
pub fn organiser_notice(
    video: &VideoRecord,
    address: &str,
    failure: Option<(&str, &str)>,
) -> Email {
    let title = video.title();
    let (subject, lines) = match failure {
        Some((stage, reason)) => (
            format!("vidpipe: failed: {title}"),
            vec![
                format!("\"{title}\" (video {}) failed in {stage}:", video.id),
                reason.to_string(),
                format!("Source: {}", video.source),
            ],
        ),
        None => {
            let mut lines = vec![format!("\"{title}\" (video {}) is published:", video.id)];
            lines.extend(video.links.iter().map(|l| format!("  {l}")));
            if !video.destinations.is_empty() {
                lines.push("Platforms:".into());
                lines.extend(
                    video
                        .destinations
                        .iter()
                        .map(|d| format!("  {}: {}", d.label(), d.describe())),
                );
            }
            let speakers: Vec<String> = video
                .sidecar
                .iter()
                .flat_map(|s| s.speakers.iter())
                .map(|s| match &s.email {
                    Some(e) => format!("{} <{e}>", s.name),
                    None => format!("{} (no address)", s.name),
                })
                .collect();
            if !speakers.is_empty() {
                lines.push(format!("Speakers: {}", speakers.join(", ")));
            }
            (format!("vidpipe: published: {title}"), lines)
        }
    };
    let html = lines
        .iter()
        .map(|l| format!("<p>{}</p>", escape_html(l)))
        .collect::<Vec<_>>()
        .join("\n");
    Email {
        to_name: None,
        to_address: address.to_string(),
        subject,
        text: lines.join("\n") + "\n",
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::VideoId;
    use crate::sidecar::{Sidecar, Speaker};

    fn published(links: &[&str]) -> VideoRecord {
        let id = VideoId::parse("0123456789abcdef").unwrap();
        let mut v = VideoRecord::new(id, "uploads/talk.mp4", "talk.mp4");
        v.links = links.iter().map(|l| l.to_string()).collect();
        v.sidecar = Some(Sidecar {
            title: Some("Metrics <right & wrong>".into()),
            speakers: vec![
                Speaker {
                    name: "Ada".into(),
                    email: Some("ada@example.org".into()),
                },
                Speaker {
                    name: "Ada again".into(),
                    email: Some("ADA@example.org".into()),
                },
                Speaker {
                    name: "Bob".into(),
                    email: None,
                },
            ],
            ..Sidecar::default()
        });
        v
    }

    #[test]
    fn one_email_per_address_and_keys_change_with_the_links() {
        let config = NotifyConfig {
            email: true,
            organiser: Some("org@example.org".into()),
            sheet_write_back: true,
            catalog_write_back: true,
        };
        let v = published(&["https://a/1", "https://a/2"]);
        let d = deliveries_for(&v, &config);
        // Ada once (the same address twice), the organiser; no sheet row to write.
        assert_eq!(d.len(), 2, "{d:?}");
        let again = deliveries_for(&published(&["https://a/2", "https://a/1"]), &config);
        assert_eq!(d[0].key, again[0].key, "link order does not matter");
        let other = deliveries_for(&published(&["https://b/1"]), &config);
        assert_ne!(d[0].key, other[0].key);
        assert!(deliveries_for(&published(&[]), &config).is_empty());
        let no_mail = NotifyConfig {
            email: false,
            ..config
        };
        assert!(deliveries_for(&v, &no_mail).is_empty());
    }

    #[test]
    fn the_speaker_email_greets_by_name_and_escapes_its_html() {
        let mut v = published(&["https://x/report.html?a=1&b=2"]);
        v.description = Some("Line one\nLine two".into());
        let e = speaker_email(&v, "Ada", "ada@example.org");
        assert!(e.text.starts_with("Hello Ada,"));
        assert!(e.text.contains("\"Metrics <right & wrong>\""));
        assert!(e.text.contains("https://x/report.html?a=1&b=2"));
        assert!(e
            .html
            .contains("<strong>Metrics &lt;right &amp; wrong&gt;</strong>"));
        assert!(e
            .html
            .contains("href=\"https://x/report.html?a=1&amp;b=2\""));
        assert!(e.html.contains("Line one<br>\nLine two"));
        assert_eq!(e.subject, "Your talk is published: Metrics <right & wrong>");
    }

    #[test]
    fn the_organiser_notice_gives_the_reason_of_a_failure() {
        let v = published(&[]);
        let e = organiser_notice(&v, "org@example.org", Some(("ingest", "not a video")));
        assert!(e.subject.contains("failed") && e.text.contains("not a video"));
        let ok = organiser_notice(&published(&["https://x"]), "org@example.org", None);
        assert!(ok.text.contains("https://x") && ok.text.contains("Bob (no address)"));
    }
}

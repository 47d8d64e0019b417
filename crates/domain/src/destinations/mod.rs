//! Where a video is published besides its own files: YouTube, Vimeo, a Facebook Page.
//! A sidecar may name them per video:
//!
//! ```json
//! {"publish": [{"to": "youtube", "privacy": "unlisted", "playlist": "PL…"},
//!              {"to": "vimeo", "replace": "/videos/12345"},
//!              {"to": "facebook"}]}
//! ```
//!
//! This module is the shape of such a request, checked when the sidecar is read (so a
//! bad one fails the video at ingest, before any transcode), and the classification
//! of each platform's answers ([`answers`]) that decides between retrying, deferring,
//! asking for credentials and giving up.

pub mod answers;
pub mod clock;
pub mod state;
pub mod upload;
pub mod vertical;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A platform vidpipe publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    #[serde(rename = "youtube")]
    YouTube,
    Vimeo,
    Facebook,
}

impl Platform {
    /// Every platform, in the order `--to` and the README list them.
    pub const ALL: [Platform; 3] = [Platform::YouTube, Platform::Vimeo, Platform::Facebook];

    /// The name a sidecar or `--to` uses: `youtube`, `vimeo`, `facebook`.
    pub fn name(self) -> &'static str {
        match self {
            Platform::YouTube => "youtube",
            Platform::Vimeo => "vimeo",
            Platform::Facebook => "facebook",
        }
    }

    /// The platform named `name` (lowercase), if vidpipe publishes there.
    pub fn parse(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Who may watch the published video. Each platform has its own words for these
/// (YouTube `status.privacyStatus`; Vimeo `privacy.view` `nobody`, `unlisted`,
/// `anybody`; a Page video is public or, unlisted, only reachable by its link);
/// vidpipe maps these three onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Privacy {
    /// Only the account's owner (the default: a person publishes it by hand after a
    /// look).
    #[default]
    Private,
    /// Whoever has the link.
    Unlisted,
    Public,
}

impl Privacy {
    fn parse(name: &str) -> Option<Privacy> {
        match name {
            "private" => Some(Privacy::Private),
            "unlisted" => Some(Privacy::Unlisted),
            "public" => Some(Privacy::Public),
            _ => None,
        }
    }
}

/// An existing Vimeo video whose file a new version replaces: its URI as Vimeo's API
/// names it, `/videos/{video_id}` (Vimeo API reference, "Videos": `POST
/// /videos/{video_id}/versions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VimeoVideoUri(u64);

impl VimeoVideoUri {
    /// Reads `/videos/12345`; a Vimeo page address (`https://vimeo.com/12345`) is
    /// taken too, since that is what people copy.
    ///
    /// # Errors
    /// A sentence naming the text and the form expected.
    pub fn parse(text: &str) -> Result<VimeoVideoUri, String> {
        let id = text
            .strip_prefix("/videos/")
            .or_else(|| text.strip_prefix("https://vimeo.com/"))
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        id.and_then(|id| id.parse().ok())
            .filter(|id| *id > 0)
            .map(VimeoVideoUri)
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a Vimeo video: expected /videos/<number> (or https://vimeo.com/<number>)"
                )
            })
    }

    /// The video's id.
    pub fn id(&self) -> u64 {
        self.0
    }

    /// `/videos/12345`
    pub fn uri(&self) -> String {
        format!("/videos/{}", self.0)
    }
}

impl TryFrom<String> for VimeoVideoUri {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        VimeoVideoUri::parse(&text)
    }
}

impl From<VimeoVideoUri> for String {
    fn from(uri: VimeoVideoUri) -> String {
        uri.uri()
    }
}

/// One destination a video goes to, as a sidecar or the deployment's configuration
/// asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct DestinationRequest {
    pub to: Platform,
    #[serde(default)]
    pub privacy: Privacy,
    /// YouTube: the playlist to add the video to (`playlistItems.insert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    /// Vimeo: the existing video whose file this one replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<VimeoVideoUri>,
    /// YouTube: when a private video becomes public (`status.publishAt`, ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_at: Option<String>,
    /// Publish the vertical 9:16 cut of the promo as well (Shorts, Reels).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vertical: bool,
}

impl DestinationRequest {
    /// `{"to": <platform>}`: private, no playlist, no replacement, no vertical cut.
    pub fn to(platform: Platform) -> DestinationRequest {
        DestinationRequest {
            to: platform,
            privacy: Privacy::default(),
            playlist: None,
            replace: None,
            publish_at: None,
            vertical: false,
        }
    }
}

impl TryFrom<Value> for DestinationRequest {
    type Error = String;

    /// One entry of a `publish` list, every field checked against the platform it
    /// belongs to, so that a typo or a field the platform does not take is an error
    /// naming it rather than a silent default.
    fn try_from(value: Value) -> Result<Self, String> {
        let Value::Object(fields) = value else {
            return Err(format!(
                "a destination is an object like {{\"to\": \"youtube\"}}, not {value}"
            ));
        };
        let text = |name: &str| -> Result<Option<String>, String> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
                Some(other) => Err(format!("{name}: expected a non-empty string, not {other}")),
            }
        };
        let names = Platform::ALL.map(Platform::name).join(", ");
        let to =
            text("to")?.ok_or_else(|| format!("a destination needs \"to\" (one of {names})"))?;
        let to = Platform::parse(&to)
            .ok_or_else(|| format!("unknown destination {to:?}: vidpipe publishes to {names}"))?;
        let privacy = match text("privacy")? {
            None => Privacy::default(),
            Some(p) => Privacy::parse(&p)
                .ok_or_else(|| format!("privacy {p:?}: expected private, unlisted or public"))?,
        };
        let vertical = match fields.get("vertical") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(format!("vertical: expected true or false, not {other}")),
        };
        let request = DestinationRequest {
            to,
            privacy,
            playlist: text("playlist")?,
            replace: text("replace")?
                .map(|r| VimeoVideoUri::parse(&r).map_err(|e| format!("replace: {e}")))
                .transpose()?,
            publish_at: text("publish_at")?,
            vertical,
        };
        let takes = |field: &str| match field {
            "to" | "privacy" | "vertical" => true,
            "playlist" | "publish_at" => to == Platform::YouTube,
            "replace" => to == Platform::Vimeo,
            _ => false,
        };
        if let Some(field) = fields.keys().find(|f| !takes(f)) {
            return Err(format!(
                "{} takes no field {field:?} (it takes {})",
                to.name(),
                [
                    "to",
                    "privacy",
                    "vertical",
                    "playlist",
                    "publish_at",
                    "replace"
                ]
                .into_iter()
                .filter(|f| takes(f))
                .collect::<Vec<_>>()
                .join(", ")
            ));
        }
        if request.publish_at.is_some() && request.privacy != Privacy::Private {
            // YouTube schedules only private videos (Data API, videos resource:
            // status.publishAt "can only be set if the privacy status is private").
            return Err("publish_at: YouTube schedules only private videos".into());
        }
        Ok(request)
    }
}

/// Reads a `publish` list (the sidecar's field, or a deployment's configuration).
///
/// # Errors
/// A sentence naming the entry (`publish[1]: …`) and what is wrong with it: not a
/// list, an unknown destination, a field the platform does not take, a malformed
/// Vimeo URI, the same platform twice.
pub fn parse_destinations(value: &Value) -> Result<Vec<DestinationRequest>, String> {
    let Value::Array(entries) = value else {
        return Err(format!(
            "publish: expected a list of destinations, not {value}"
        ));
    };
    let mut requests: Vec<DestinationRequest> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let request = DestinationRequest::try_from(entry.clone())
            .map_err(|e| format!("publish[{i}]: {e}"))?;
        if requests.iter().any(|r| r.to == request.to) {
            return Err(format!(
                "publish[{i}]: {} is named twice (one upload per platform)",
                request.to.name()
            ));
        }
        requests.push(request);
    }
    Ok(requests)
}

#[cfg(test)]
mod tests;

//! The sidecar: a JSON document uploaded beside a video (`uploads/<name>.json`) that
//! says what the video is and which part of it to publish. Every field is optional.
//!
//! ```json
//! {"title": "Right metrics", "description": "…",
//!  "speakers": [{"name": "Ada Lovelace", "email": "ada@example.org"}],
//!  "start": "00:01:30", "end": 1800.5, "tags": ["metrics", "analytics"],
//!  "publish": [{"to": "youtube", "privacy": "unlisted"}, {"to": "vimeo", "replace": "/videos/12345"}]}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::time::parse_clip_time_s;

/// A speaker named in the sidecar. `email` is where the publish stage sends the link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A clip time as written: seconds as a number, or a string (`"90"`, `"00:01:30.5"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClipTime {
    Seconds(f64),
    Text(String),
}

impl ClipTime {
    /// Seconds from the start of the source. Errors as [`parse_clip_time_s`].
    pub fn seconds(&self) -> Result<f64, InputError> {
        match self {
            ClipTime::Seconds(s) if s.is_finite() && *s >= 0.0 => Ok(*s),
            ClipTime::Seconds(s) => Err(InputError::BadTime {
                text: s.to_string(),
                reason: "must be a finite number of seconds, not negative".into(),
            }),
            ClipTime::Text(t) => parse_clip_time_s(t),
        }
    }
}

/// The sidecar document, as parsed. Fields it does not know are kept in `unknown` so
/// that a misspelt field can be reported instead of silently lost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<Speaker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<ClipTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<ClipTime>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// A dataset catalog's entry to update once the video is published (a time-lapse's
    /// period and link).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<crate::catalog::CatalogTarget>,
    /// Where this video is published ([`crate::destinations`]), instead of the
    /// deployment's list; checked as the sidecar is read.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "publish_list"
    )]
    pub publish: Option<Vec<crate::destinations::DestinationRequest>>,
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

impl Sidecar {
    /// Parses sidecar bytes. `key` names the document in errors.
    ///
    /// # Errors
    /// [`InputError::BadSidecar`] when the bytes are not a JSON object of this shape
    /// (serde's message gives line and column), or a start/end time is malformed.
    pub fn parse(key: &str, bytes: &[u8]) -> Result<Sidecar, InputError> {
        let sidecar: Sidecar =
            serde_json::from_slice(bytes).map_err(|e| InputError::BadSidecar {
                key: key.to_string(),
                reason: match e.classify() {
                    serde_json::error::Category::Data => e.to_string(),
                    _ => format!("invalid JSON: {e}"),
                },
            })?;
        for (name, time) in [("start", &sidecar.start), ("end", &sidecar.end)] {
            if let Some(t) = time {
                t.seconds().map_err(|e| InputError::BadSidecar {
                    key: key.to_string(),
                    reason: format!("{name}: {e}"),
                })?;
            }
        }
        if let Some(s) = sidecar.speakers.iter().find(|s| s.name.trim().is_empty()) {
            return Err(InputError::BadSidecar {
                key: key.to_string(),
                reason: format!("a speaker has an empty name (email {:?})", s.email),
            });
        }
        Ok(sidecar)
    }

    /// The clip in/out points in seconds, as far as the sidecar gives them.
    pub fn clip_s(&self) -> Result<(Option<f64>, Option<f64>), InputError> {
        let start = self.start.as_ref().map(ClipTime::seconds).transpose()?;
        let end = self.end.as_ref().map(ClipTime::seconds).transpose()?;
        Ok((start, end))
    }
}

/// The sidecar's `publish` list, checked by [`crate::destinations::parse_destinations`].
fn publish_list<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<crate::destinations::DestinationRequest>>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    crate::destinations::parse_destinations(&value)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_field_and_both_time_forms() {
        let s = Sidecar::parse(
            "uploads/talk.json",
            br#"{"title":"T","speakers":[{"name":"Ada","email":"a@x.org"},{"name":"Bob"}],
                "start":"00:00:01.5","end":20,"tags":["a","b"],"room":"B1"}"#,
        )
        .unwrap();
        assert_eq!(s.title.as_deref(), Some("T"));
        assert_eq!(s.speakers.len(), 2);
        assert_eq!(s.speakers[1].email, None);
        assert_eq!(s.clip_s().unwrap(), (Some(1.5), Some(20.0)));
        assert_eq!(s.unknown.keys().collect::<Vec<_>>(), vec!["room"]);
    }

    #[test]
    fn invalid_json_names_the_key_and_position() {
        let err = Sidecar::parse("uploads/talk.json", b"{\"title\": ").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("uploads/talk.json") && text.contains("invalid JSON"),
            "{text}"
        );
        assert!(text.contains("line 1"), "{text}");
    }

    #[test]
    fn bad_times_and_shapes_are_rejected() {
        assert!(Sidecar::parse("k", br#"{"start":"soon"}"#)
            .unwrap_err()
            .to_string()
            .contains("start"));
        assert!(Sidecar::parse("k", br#"{"end":-4}"#).is_err());
        assert!(Sidecar::parse("k", br#"["not","an","object"]"#).is_err());
        assert!(Sidecar::parse("k", br#"{"speakers":[{"name":" "}]}"#).is_err());
    }

    #[test]
    fn a_bad_publish_list_fails_the_sidecar_with_its_reason() {
        let s = Sidecar::parse("k", br#"{"publish":[{"to":"facebook"}]}"#).unwrap();
        let list = s.publish.unwrap();
        assert_eq!(list[0].to, crate::destinations::Platform::Facebook);
        for (bytes, says) in [
            (
                &br#"{"publish":[{"to":"tiktok"}]}"#[..],
                "unknown destination \"tiktok\"",
            ),
            (
                br#"{"publish":[{"to":"vimeo","replace":"vimeo.com/x"}]}"#,
                "is not a Vimeo video",
            ),
        ] {
            let err = Sidecar::parse("uploads/talk.json", bytes)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("uploads/talk.json") && err.contains(says),
                "{err}"
            );
            assert!(!err.contains("invalid JSON"), "{err}");
        }
    }
}

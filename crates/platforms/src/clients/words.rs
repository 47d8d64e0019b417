//! What each platform is sent and how its answers become the port's: the YouTube
//! videos resource, each platform's words for privacy, the captions' language, and
//! the protocol errors as [`UploadFailure`]s.

use serde_json::json;
use vidpipe_domain::destinations::upload::{Sent, UploadFailure, UploadItem};
use vidpipe_domain::destinations::{DestinationRequest, Privacy};

use crate::UploadError;

/// The port's failure for a protocol error.
pub fn failure(e: UploadError) -> UploadFailure {
    match e {
        UploadError::Refused(r) => UploadFailure::Answered {
            status: r.status,
            headers: r.headers,
            body: r.body,
        },
        UploadError::Transport(why) => UploadFailure::Transport(why),
        UploadError::SessionExpired => UploadFailure::SessionExpired,
        UploadError::Protocol(why) => UploadFailure::Protocol(why),
        UploadError::Source(why) => UploadFailure::Unreadable(why),
        UploadError::Paused { offset } => {
            UploadFailure::Protocol(format!("paused at {offset} outside a send"))
        }
    }
}

/// A send's end: complete, or paused at the deadline.
pub(super) fn sent(result: Result<String, UploadError>) -> Result<Sent, UploadFailure> {
    match result {
        Ok(platform_id) => Ok(Sent::Complete { platform_id }),
        Err(UploadError::Paused { offset }) => Ok(Sent::Paused { offset }),
        Err(e) => Err(failure(e)),
    }
}

/// YouTube's `status.privacyStatus`.
pub(super) fn youtube_privacy(p: Privacy) -> &'static str {
    match p {
        Privacy::Private => "private",
        Privacy::Unlisted => "unlisted",
        Privacy::Public => "public",
    }
}

/// Vimeo's `privacy.view`: only the owner, whoever has the link, anybody.
pub(super) fn vimeo_view(p: Privacy) -> &'static str {
    match p {
        Privacy::Private => "nobody",
        Privacy::Unlisted => "unlisted",
        Privacy::Public => "anybody",
    }
}

/// At most `max` characters, cut at a character boundary.
pub(super) fn at_most(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// At most `max` bytes of UTF-8, cut at a character boundary.
fn at_most_bytes(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// As many tags, in order, as fit YouTube's 500 characters for them all: each
/// counts its length, one for the comma between, and two more for the quotes a tag
/// with a space gets (YouTube Data API, videos resource, `snippet.tags`).
fn youtube_tags(tags: &[String]) -> Vec<String> {
    let mut used = 0;
    let mut kept = Vec::new();
    for tag in tags.iter().map(|t| t.trim_start_matches('#').trim()) {
        if tag.is_empty() {
            continue;
        }
        let cost = tag.chars().count()
            + usize::from(!kept.is_empty())
            + if tag.contains(' ') { 2 } else { 0 };
        if used + cost > 500 {
            break;
        }
        used += cost;
        kept.push(tag.to_string());
    }
    kept
}

/// The videos resource YouTube is sent: title at most 100 characters and without
/// `<` or `>`, description at most 5,000 bytes (YouTube Data API, videos resource:
/// `snippet.title`, `snippet.description`), tags within 500 characters.
pub fn youtube_video(
    item: &UploadItem,
    request: &DestinationRequest,
    category: &str,
) -> serde_json::Value {
    let clean = |t: &str| t.replace(['<', '>'], "");
    let mut status = json!({
        "privacyStatus": youtube_privacy(request.privacy),
        "selfDeclaredMadeForKids": false,
    });
    if let Some(at) = &request.publish_at {
        status["publishAt"] = json!(at);
    }
    let tags = youtube_tags(&item.tags);
    json!({
        "snippet": {
            "title": at_most(&clean(&item.title), 100),
            "description": at_most_bytes(&clean(&item.description), 5000),
            "tags": tags,
            "categoryId": category,
        },
        "status": status,
    })
}

/// The primary language subtag of a transcript's language (`en-US` → `en`).
pub(super) fn language(item: &UploadItem) -> String {
    item.language
        .as_deref()
        .and_then(|l| l.split(['-', '_']).next())
        .filter(|l| !l.is_empty())
        .unwrap_or("en")
        .to_string()
}

pub(super) fn video_id(video: &serde_json::Value) -> Result<String, UploadFailure> {
    video["id"].as_str().map(str::to_string).ok_or_else(|| {
        UploadFailure::Protocol(format!("no id in YouTube's video resource: {video}"))
    })
}

#[cfg(test)]
mod tests {
    use vidpipe_domain::destinations::upload::{Cut, UploadItem};
    use vidpipe_domain::destinations::{DestinationRequest, Platform, Privacy};

    use super::*;

    fn item(title: &str, description: &str, tags: Vec<String>) -> UploadItem {
        UploadItem {
            cut: Cut::Full,
            key: "media/x/video_720p.mp4".into(),
            file_name: "video_720p.mp4".into(),
            bytes: 1,
            title: title.into(),
            description: description.into(),
            tags,
            cover_key: None,
            captions_vtt_key: None,
            captions_srt_key: None,
            language: None,
        }
    }

    #[test]
    fn the_videos_resource_keeps_to_youtube_s_limits() {
        let title = format!("<b>{}</b>", "é".repeat(120));
        let description = "ü".repeat(3000); // 6,000 bytes
        let tags: Vec<String> = (0..100).map(|i| format!("#tag number {i}")).collect();
        let mut request = DestinationRequest::to(Platform::YouTube);
        let v = youtube_video(&item(&title, &description, tags), &request, "28");
        let t = v["snippet"]["title"].as_str().unwrap();
        assert_eq!(t.chars().count(), 100);
        assert!(!t.contains('<') && t.starts_with("bé"), "{t}");
        let d = v["snippet"]["description"].as_str().unwrap();
        assert_eq!(d.len(), 5000, "2,500 two-byte characters");
        let kept: Vec<&str> = v["snippet"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(kept[0], "tag number 0");
        let cost: usize = kept.iter().map(|t| t.len() + 2).sum::<usize>() + kept.len() - 1;
        assert!(
            cost <= 500 && cost + 16 > 500,
            "{cost} of 500 used, the next would not fit"
        );
        assert_eq!(v["status"]["privacyStatus"], "private");
        assert!(v["status"].get("publishAt").is_none());
        request.publish_at = Some("2026-12-24T09:00:00Z".into());
        request.privacy = Privacy::Private;
        let v = youtube_video(&item("t", "d", vec![]), &request, "28");
        assert_eq!(v["status"]["publishAt"], "2026-12-24T09:00:00Z");
    }
}

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

/// YouTube's `status.privacyStatus`, Vimeo's `privacy.view`.
pub(super) fn youtube_privacy(p: Privacy) -> &'static str {
    match p {
        Privacy::Private => "private",
        Privacy::Unlisted => "unlisted",
        Privacy::Public => "public",
    }
}

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

/// The videos resource YouTube is sent: title at most 100 characters and without
/// `<` or `>`, description at most 5,000 (YouTube Data API, videos resource:
/// `snippet.title`, `snippet.description`).
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
    let tags: Vec<String> = item
        .tags
        .iter()
        .map(|t| t.trim_start_matches('#').to_string())
        .collect();
    json!({
        "snippet": {
            "title": at_most(&clean(&item.title), 100),
            "description": at_most(&clean(&item.description), 5000),
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

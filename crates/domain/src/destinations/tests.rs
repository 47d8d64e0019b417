//! Destination requests as a sidecar writes them, and each kind of bad one.

use serde_json::json;

use super::*;

#[test]
fn a_publish_list_reads_each_platform_s_options() {
    let list = parse_destinations(&json!([
        {"to": "youtube", "privacy": "unlisted", "playlist": "PLabc", "vertical": true},
        {"to": "vimeo", "replace": "/videos/12345"},
        {"to": "facebook", "privacy": "public"}
    ]))
    .unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].to, Platform::YouTube);
    assert_eq!(list[0].privacy, Privacy::Unlisted);
    assert_eq!(list[0].playlist.as_deref(), Some("PLabc"));
    assert!(list[0].vertical);
    assert_eq!(list[1].replace.as_ref().map(VimeoVideoUri::id), Some(12345));
    assert_eq!(list[1].privacy, Privacy::Private, "private unless asked");
    assert_eq!(list[2].privacy, Privacy::Public);
    // What is kept in the record reads back the same.
    let text = serde_json::to_value(&list).unwrap();
    assert_eq!(text[1]["replace"], "/videos/12345");
    assert_eq!(parse_destinations(&text).unwrap(), list);
    // A Vimeo page address is what people copy: it names the same video.
    let page = parse_destinations(&json!([{"to": "vimeo", "replace": "https://vimeo.com/987"}]));
    assert_eq!(
        page.unwrap()[0].replace.as_ref().unwrap().uri(),
        "/videos/987"
    );
}

#[test]
fn each_bad_request_is_named_with_its_entry_and_reason() {
    let cases = [
        (json!({"to": "youtube"}), "expected a list"),
        (json!(["youtube"]), "publish[0]: a destination is an object"),
        (json!([{"privacy": "public"}]), "needs \"to\""),
        (json!([{"to": "tiktok"}]), "publish[0]: unknown destination \"tiktok\": vidpipe publishes to youtube, vimeo, facebook"),
        (json!([{"to": "youtube"}, {"to": "vimeo", "replace": "12345"}]), "publish[1]: replace: \"12345\" is not a Vimeo video: expected /videos/<number>"),
        (json!([{"to": "vimeo", "replace": "/videos/abc"}]), "not a Vimeo video"),
        (json!([{"to": "vimeo", "replace": "/videos/0"}]), "not a Vimeo video"),
        (json!([{"to": "youtube", "privacy": "friends"}]), "privacy \"friends\": expected private, unlisted or public"),
        (json!([{"to": "youtube", "privcy": "public"}]), "youtube takes no field \"privcy\""),
        (json!([{"to": "facebook", "replace": "/videos/1"}]), "facebook takes no field \"replace\""),
        (json!([{"to": "vimeo", "playlist": "PL1"}]), "vimeo takes no field \"playlist\""),
        (json!([{"to": "youtube", "vertical": "yes"}]), "vertical: expected true or false"),
        (json!([{"to": "youtube", "privacy": "public", "publish_at": "2026-12-24T09:00:00Z"}]), "schedules only private videos"),
        (json!([{"to": "youtube"}, {"to": "youtube", "privacy": "public"}]), "publish[1]: youtube is named twice"),
    ];
    for (value, says) in cases {
        let err = parse_destinations(&value).unwrap_err();
        assert!(err.contains(says), "{value}: {err}");
    }
}

//! YouTube's resumable upload against a local stand-in that speaks the protocol as
//! YouTube documents it (session URI in `Location`, 308 with `Range`, chunks in
//! multiples of 256 KiB but the last, the finished video resource), with failures
//! injected: a chunk kept only in part and answered 503, an expired session, a spent
//! quota.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use vidpipe_domain::destinations::answers::{classify, Verdict};
use vidpipe_domain::destinations::Platform;
use vidpipe_platforms::youtube::{Progress, Session, YouTubeUploads, CHUNK_QUANTUM};
use vidpipe_platforms::{ByteSource, FileSource, UploadError};

const TOKEN: &str = "ya29.test-access-token";

#[derive(Default)]
struct Stand {
    /// The video resource the upload started with.
    video: Option<Value>,
    total: u64,
    received: Vec<u8>,
    /// Every byte the stand-in accepted, counting any sent twice.
    accepted: u64,
    puts: usize,
    /// On this PUT (1-based), keep only this many bytes of the chunk and answer 503.
    cut_put: Option<(usize, usize)>,
    /// Answer every request with this status and body.
    refuse: Option<(u16, String)>,
    expired: bool,
}

type Shared = Arc<Mutex<Stand>>;

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn start(
    State(stand): State<Shared>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = stand.lock().unwrap();
    if let Some((status, body)) = &s.refuse {
        return (StatusCode::from_u16(*status).unwrap(), body.clone()).into_response();
    }
    let wants = |k: &str, v: &str| q.iter().any(|(a, b)| a == k && b == v);
    assert!(
        wants("uploadType", "resumable") && wants("part", "snippet,status"),
        "{q:?}"
    );
    assert!(authorised(&headers));
    assert_eq!(headers["x-upload-content-type"], "video/mp4");
    s.total = headers["x-upload-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    s.video = Some(serde_json::from_slice(&body).unwrap());
    let host = headers["host"].to_str().unwrap();
    let location =
        format!("http://{host}/upload/youtube/v3/videos?uploadType=resumable&upload_id=xa298sd_f");
    (StatusCode::OK, [("location", location)]).into_response()
}

fn incomplete(received: usize) -> Response {
    if received == 0 {
        return StatusCode::PERMANENT_REDIRECT.into_response();
    }
    let range = format!("bytes=0-{}", received - 1);
    (StatusCode::PERMANENT_REDIRECT, [("range", range)]).into_response()
}

async fn put(State(stand): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = stand.lock().unwrap();
    assert!(authorised(&headers));
    if s.expired {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    s.puts += 1;
    let range = headers["content-range"].to_str().unwrap().to_string();
    let (span, total) = range
        .strip_prefix("bytes ")
        .unwrap()
        .split_once('/')
        .unwrap();
    assert_eq!(total.parse::<u64>().unwrap(), s.total, "{range}");
    if span == "*" {
        assert!(body.is_empty());
    } else {
        let (a, b) = span.split_once('-').unwrap();
        let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
        assert_eq!(
            a,
            s.received.len() as u64,
            "a chunk must start where YouTube is"
        );
        assert_eq!(b - a + 1, body.len() as u64, "{range}");
        let last = b + 1 == s.total;
        assert!(
            last || body.len().is_multiple_of(CHUNK_QUANTUM),
            "chunk of {} bytes",
            body.len()
        );
        let keep = match s.cut_put {
            Some((n, keep)) if n == s.puts => keep,
            _ => body.len(),
        };
        s.received.extend_from_slice(&body[..keep]);
        s.accepted += keep as u64;
        if keep < body.len() {
            return (StatusCode::SERVICE_UNAVAILABLE, "backendError").into_response();
        }
    }
    if s.received.len() as u64 == s.total {
        let video = s.video.clone().unwrap();
        let done = json!({"kind": "youtube#video", "id": "dQw4w9WgXcQ",
            "snippet": video["snippet"], "status": video["status"]});
        return (StatusCode::OK, axum::Json(done)).into_response();
    }
    incomplete(s.received.len())
}

async fn stand_in(stand: Shared) -> String {
    let app = Router::new()
        .route("/upload/youtube/v3/videos", post(start).put(put))
        .with_state(stand);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A file of `len` bytes with a pattern that shows misplaced bytes.
fn video_file(dir: &std::path::Path, len: usize) -> (std::path::PathBuf, Vec<u8>) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let path = dir.join("talk.mp4");
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn uploads(base_url: String) -> YouTubeUploads {
    YouTubeUploads {
        client: reqwest::Client::new(),
        base_url,
        chunk: CHUNK_QUANTUM,
    }
}

fn resource() -> Value {
    json!({"snippet": {"title": "Right metrics", "description": "Ada Lovelace on metrics",
        "tags": ["metrics"], "categoryId": "28"}, "status": {"privacyStatus": "private"}})
}

#[tokio::test]
async fn a_video_goes_up_in_chunks_and_every_confirmed_offset_is_reported() {
    let stand = Shared::default();
    let yt = uploads(stand_in(stand.clone()).await);
    let dir = tempfile::tempdir().unwrap();
    let len = 4 * CHUNK_QUANTUM + 1000;
    let (path, bytes) = video_file(dir.path(), len);
    let source = FileSource::open(&path).unwrap();
    let session = yt
        .start(TOKEN, &resource(), source.len(), "video/mp4")
        .await
        .unwrap();
    assert!(session.uri.contains("upload_id="), "{session:?}");
    assert_eq!(
        yt.progress(TOKEN, &session).await.unwrap(),
        Progress::Next(0)
    );
    let mut offsets = Vec::new();
    let video = yt
        .send(TOKEN, &session, &source, 0, |o| offsets.push(o))
        .await
        .unwrap();
    let q = CHUNK_QUANTUM as u64;
    assert_eq!(offsets, [q, 2 * q, 3 * q, 4 * q, len as u64]);
    assert_eq!(video["id"], "dQw4w9WgXcQ");
    assert_eq!(video["status"]["privacyStatus"], "private");
    let s = stand.lock().unwrap();
    assert_eq!(s.received, bytes);
    assert_eq!(s.accepted, len as u64, "every byte once");
    assert_eq!(
        s.video.as_ref().unwrap()["snippet"]["title"],
        "Right metrics"
    );
}

#[tokio::test]
async fn a_chunk_kept_in_part_resumes_from_youtube_s_offset_and_no_byte_goes_twice() {
    let stand = Shared::default();
    // The second PUT: YouTube keeps 100,000 of its bytes and answers 503.
    stand.lock().unwrap().cut_put = Some((2, 100_000));
    let base = stand_in(stand.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let len = 3 * CHUNK_QUANTUM + 77;
    let (path, bytes) = video_file(dir.path(), len);
    let source = FileSource::open(&path).unwrap();
    let yt = uploads(base.clone());
    let session = yt
        .start(TOKEN, &resource(), source.len(), "video/mp4")
        .await
        .unwrap();
    let mut recorded = 0;
    let err = yt
        .send(TOKEN, &session, &source, 0, |o| recorded = o)
        .await
        .unwrap_err();
    assert_eq!(
        recorded, CHUNK_QUANTUM as u64,
        "the first chunk was confirmed"
    );
    let UploadError::Refused(refusal) = err else {
        panic!("{err:?}")
    };
    // A 503 is worth retrying.
    let verdict = classify(Platform::YouTube, &refusal.answer(), 0, 1);
    assert!(matches!(verdict, Verdict::Retry { .. }), "{verdict:?}");
    // Another process picks the upload up from what was recorded: the session.
    let later = uploads(base);
    let recorded_session = Session {
        uri: session.uri.clone(),
        total: session.total,
    };
    let Progress::Next(next) = later.progress(TOKEN, &recorded_session).await.unwrap() else {
        panic!("not finished")
    };
    assert_eq!(
        next,
        CHUNK_QUANTUM as u64 + 100_000,
        "where YouTube is, not where we were"
    );
    let video = later
        .send(TOKEN, &recorded_session, &source, next, |_| {})
        .await
        .unwrap();
    assert_eq!(video["id"], "dQw4w9WgXcQ");
    {
        let s = stand.lock().unwrap();
        assert_eq!(s.received, bytes);
        assert_eq!(s.accepted, len as u64, "every byte exactly once");
    }
    // A finished upload asked again says so.
    let done = later.progress(TOKEN, &recorded_session).await.unwrap();
    assert!(matches!(done, Progress::Done(v) if v["id"] == "dQw4w9WgXcQ"));
}

#[tokio::test]
async fn an_expired_session_and_a_spent_quota_are_told_apart() {
    let stand = Shared::default();
    let yt = uploads(stand_in(stand.clone()).await);
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = video_file(dir.path(), CHUNK_QUANTUM);
    let source = FileSource::open(&path).unwrap();
    let session = yt
        .start(TOKEN, &resource(), source.len(), "video/mp4")
        .await
        .unwrap();
    stand.lock().unwrap().expired = true;
    let err = yt
        .send(TOKEN, &session, &source, 0, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::SessionExpired), "{err:?}");
    // The day's quota is spent: the start is refused, and the refusal defers.
    let quota = include_str!("../../../tests/fixtures/platforms/youtube-quota-exceeded.json");
    stand.lock().unwrap().refuse = Some((403, quota.to_string()));
    let err = yt
        .start(TOKEN, &resource(), source.len(), "video/mp4")
        .await
        .unwrap_err();
    let UploadError::Refused(refusal) = err else {
        panic!("{err:?}")
    };
    assert_eq!(refusal.status, 403);
    let verdict = classify(Platform::YouTube, &refusal.answer(), 1_796_265_000, 1);
    assert!(matches!(verdict, Verdict::Defer { .. }), "{verdict:?}");
    // A missing file is named.
    let missing = FileSource::open(dir.path().join("gone.mp4")).unwrap_err();
    assert!(missing.to_string().contains("gone.mp4"), "{missing}");
}

/// What the stand-in of the video's other endpoints received.
#[derive(Default)]
struct Extras {
    thumbnail: Option<(String, String, Vec<u8>)>,
    captions: Option<(String, Vec<u8>)>,
    playlist_item: Option<Value>,
    refreshed_with: Vec<(String, String)>,
}

type SharedExtras = Arc<Mutex<Extras>>;

async fn thumbnail(
    State(x): State<SharedExtras>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    assert!(authorised(&headers));
    let video = q.iter().find(|(k, _)| k == "videoId").unwrap().1.clone();
    let kind = headers["content-type"].to_str().unwrap().to_string();
    x.lock().unwrap().thumbnail = Some((video, kind, body.to_vec()));
    axum::Json(json!({"kind": "youtube#thumbnailSetResponse",
        "items": [{"default": {"url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/default.jpg", "width": 120, "height": 90}}]}))
    .into_response()
}

async fn captions(
    State(x): State<SharedExtras>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    assert!(authorised(&headers));
    assert!(
        q.contains(&("uploadType".into(), "multipart".into())),
        "{q:?}"
    );
    let kind = headers["content-type"].to_str().unwrap().to_string();
    x.lock().unwrap().captions = Some((kind, body.to_vec()));
    axum::Json(json!({"kind": "youtube#caption", "id": "AUieDaZ",
        "snippet": {"videoId": "dQw4w9WgXcQ", "language": "en", "name": "English", "trackKind": "standard"}}))
    .into_response()
}

async fn playlist_item(
    State(x): State<SharedExtras>,
    headers: HeaderMap,
    axum::Json(item): axum::Json<Value>,
) -> Response {
    assert!(authorised(&headers));
    if item["snippet"]["playlistId"] == "PLgone" {
        let body = json!({"error": {"code": 404, "message": "The playlist identified with the request's playlistId parameter cannot be found.",
            "errors": [{"message": "Playlist not found.", "domain": "youtube.playlistItem", "reason": "playlistNotFound"}]}});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    x.lock().unwrap().playlist_item = Some(item.clone());
    axum::Json(json!({"kind": "youtube#playlistItem", "id": "UExhYmM", "snippet": item["snippet"]}))
        .into_response()
}

async fn token(
    State(x): State<SharedExtras>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Response {
    x.lock().unwrap().refreshed_with = form.clone();
    let refresh = form
        .iter()
        .find(|(k, _)| k == "refresh_token")
        .map(|(_, v)| v.as_str());
    if refresh != Some("1//refresh-token") {
        let body =
            include_str!("../../../tests/fixtures/platforms/google-token-invalid-grant.json");
        return (StatusCode::BAD_REQUEST, body).into_response();
    }
    axum::Json(json!({"access_token": TOKEN, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/youtube.upload",
        "token_type": "Bearer"}))
    .into_response()
}

#[tokio::test]
async fn thumbnail_captions_playlist_and_a_refreshed_token() {
    use vidpipe_platforms::youtube::GoogleTokens;
    let extras = SharedExtras::default();
    let app = Router::new()
        .route("/upload/youtube/v3/thumbnails/set", post(thumbnail))
        .route("/upload/youtube/v3/captions", post(captions))
        .route("/youtube/v3/playlistItems", post(playlist_item))
        .route("/token", post(token))
        .with_state(extras.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let tokens = GoogleTokens {
        client: reqwest::Client::new(),
        token_url: format!("{base}/token"),
        client_id: "123.apps.googleusercontent.com".into(),
        client_secret: "secret".into(),
    };
    let fresh = tokens.refresh("1//refresh-token").await.unwrap();
    assert_eq!((fresh.token.as_str(), fresh.expires_in_s), (TOKEN, 3599));
    let sent = extras.lock().unwrap().refreshed_with.clone();
    assert!(
        sent.contains(&("grant_type".into(), "refresh_token".into())),
        "{sent:?}"
    );
    assert!(sent.contains(&("client_id".into(), "123.apps.googleusercontent.com".into())));
    // A revoked refresh token needs a person.
    let err = tokens.refresh("1//revoked").await.unwrap_err();
    let UploadError::Refused(refusal) = err else {
        panic!("{err:?}")
    };
    let verdict = classify(Platform::YouTube, &refusal.answer(), 0, 1);
    assert!(matches!(verdict, Verdict::NeedsAuth { .. }), "{verdict:?}");

    let yt = uploads(base);
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    yt.set_thumbnail(&fresh.token, "dQw4w9WgXcQ", jpeg.clone(), "image/jpeg")
        .await
        .unwrap();
    let vtt = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello.\n";
    let track = yt
        .insert_captions(&fresh.token, "dQw4w9WgXcQ", "en", "English", vtt)
        .await
        .unwrap();
    assert_eq!(track["id"], "AUieDaZ");
    let item = yt
        .add_to_playlist(&fresh.token, "PLabc", "dQw4w9WgXcQ")
        .await
        .unwrap();
    assert_eq!(item["id"], "UExhYmM");
    {
        let x = extras.lock().unwrap();
        assert_eq!(
            x.thumbnail.as_ref().unwrap(),
            &("dQw4w9WgXcQ".to_string(), "image/jpeg".to_string(), jpeg)
        );
        // The caption request: the resource, then the file, in one multipart/related body.
        let (kind, body) = x.captions.as_ref().unwrap();
        let boundary = kind.strip_prefix("multipart/related; boundary=").unwrap();
        let text = String::from_utf8(body.clone()).unwrap();
        let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
        assert_eq!(parts.len(), 4, "{text}");
        let json_part = parts[1].split("\r\n\r\n").nth(1).unwrap().trim();
        let resource: Value = serde_json::from_str(json_part).unwrap();
        assert_eq!(resource["snippet"]["videoId"], "dQw4w9WgXcQ");
        assert_eq!(resource["snippet"]["language"], "en");
        assert!(parts[2].ends_with("Hello.\n\r\n"), "{:?}", parts[2]);
        assert_eq!(parts[3], "--\r\n");
        let item = x.playlist_item.as_ref().unwrap();
        assert_eq!(item["snippet"]["resourceId"]["kind"], "youtube#video");
        assert_eq!(item["snippet"]["resourceId"]["videoId"], "dQw4w9WgXcQ");
    }
    // A playlist that does not exist is YouTube's 404, and permanent.
    let err = yt
        .add_to_playlist(TOKEN, "PLgone", "dQw4w9WgXcQ")
        .await
        .unwrap_err();
    let UploadError::Refused(refusal) = err else {
        panic!("{err:?}")
    };
    let verdict = classify(Platform::YouTube, &refusal.answer(), 0, 1);
    assert!(
        matches!(&verdict, Verdict::Permanent { reason } if reason.contains("playlistId")),
        "{verdict:?}"
    );
}

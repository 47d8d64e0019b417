//! A Page video through the Graph API's Resumable Upload API, against a stand-in that
//! answers with the shapes the Graph API documents (nothing local speaks it): the
//! upload session, chunks at `file_offset`, the offset read back, the Page video and
//! its status; with a chunk kept in part and refused, a rate limit with its usage
//! header, and an expired token.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::json;
use vidpipe_domain::destinations::answers::{classify, Verdict};
use vidpipe_domain::destinations::Platform;
use vidpipe_platforms::facebook::{FacebookUploads, PageVideo};
use vidpipe_platforms::{FileSource, UploadError};

const USER: &str = "EAAuser";
const PAGE: &str = "EAApage";
const SESSION: &str = "upload:MTphdHRhY2htZW50Ojk";

#[derive(Default)]
struct Graph {
    total: u64,
    received: Vec<u8>,
    accepted: u64,
    posts: usize,
    /// On this chunk POST (1-based), keep this many bytes and answer error code 2.
    cut_post: Option<(usize, usize)>,
    /// Refuse the next Page video with a rate limit.
    throttle_once: bool,
    published: Vec<Vec<(String, String)>>,
}

type Shared = Arc<Mutex<Graph>>;

fn graph_error(body: &str) -> Response {
    (StatusCode::BAD_REQUEST, body.to_string()).into_response()
}

const EXPIRED: &str = include_str!("../../../tests/fixtures/platforms/facebook-token-expired.json");

async fn uploads(
    State(g): State<Shared>,
    Path(app): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    if get("access_token").as_deref() != Some(USER) {
        return graph_error(EXPIRED);
    }
    assert_eq!(app, "1234567890");
    assert_eq!(get("file_type").as_deref(), Some("video/mp4"));
    assert_eq!(get("file_name").as_deref(), Some("talk.mp4"));
    g.lock().unwrap().total = get("file_length").unwrap().parse().unwrap();
    Json(json!({"id": SESSION})).into_response()
}

fn user_authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("OAuth {USER}"))
}

async fn transfer(
    State(g): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    assert_eq!(id, SESSION);
    if !user_authorised(&headers) {
        return graph_error(EXPIRED);
    }
    let mut s = g.lock().unwrap();
    s.posts += 1;
    let offset: u64 = headers["file_offset"].to_str().unwrap().parse().unwrap();
    assert_eq!(
        offset,
        s.received.len() as u64,
        "a chunk must start where Facebook is"
    );
    let keep = match s.cut_post {
        Some((n, keep)) if n == s.posts => keep,
        _ => body.len(),
    };
    s.received.extend_from_slice(&body[..keep]);
    s.accepted += keep as u64;
    if keep < body.len() {
        let transient = json!({"error": {"message": "An unexpected error has occurred. Please retry your request later.",
            "type": "OAuthException", "is_transient": true, "code": 2, "fbtrace_id": "AxYz"}});
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(transient)).into_response();
    }
    Json(json!({"h": "2::aGFuZGxlLW9mLXRoZS12aWRlbw=="})).into_response()
}

async fn session_or_video(
    State(g): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if id == SESSION {
        if !user_authorised(&headers) {
            return graph_error(EXPIRED);
        }
        let offset = g.lock().unwrap().received.len();
        return Json(json!({"id": SESSION, "file_offset": offset})).into_response();
    }
    assert!(q.contains(&("access_token".into(), PAGE.into())));
    assert!(q.contains(&("fields".into(), "status,permalink_url".into())));
    Json(json!({"id": id, "status": {"video_status": "ready"},
        "permalink_url": format!("/100064123/videos/{id}/")}))
    .into_response()
}

async fn page_videos(
    State(g): State<Shared>,
    Path(page): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    assert_eq!(page, "100064123");
    let mut s = g.lock().unwrap();
    if std::mem::take(&mut s.throttle_once) {
        let usage = r#"{"100064123": [{"type": "pages", "call_count": 100, "total_cputime": 12, "total_time": 20, "estimated_time_to_regain_access": 7}]}"#;
        let body = include_str!("../../../tests/fixtures/platforms/facebook-rate-limited.json");
        return (
            StatusCode::BAD_REQUEST,
            [("x-business-use-case-usage", usage)],
            body,
        )
            .into_response();
    }
    s.published.push(form);
    Json(json!({"id": "10159876543210"})).into_response()
}

async fn graph(g: Shared) -> FacebookUploads {
    let app = Router::new()
        .route("/{id}", get(session_or_video).post(transfer))
        .route("/{app}/uploads", post(uploads))
        .route("/{page}/videos", post(page_videos))
        .with_state(g);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    FacebookUploads {
        client: reqwest::Client::new(),
        base_url,
        chunk: 1 << 20,
    }
}

fn file(dir: &std::path::Path, len: usize) -> (FileSource, Vec<u8>) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 13 % 241) as u8).collect();
    let path = dir.join("talk.mp4");
    std::fs::write(&path, &bytes).unwrap();
    (FileSource::open(&path).unwrap(), bytes)
}

#[tokio::test]
async fn a_page_video_goes_up_resumes_after_a_refused_chunk_and_is_published() {
    let g = Shared::default();
    g.lock().unwrap().cut_post = Some((2, 300_000));
    let fb = graph(g.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let len = (5 << 19) + 123; // two and a half chunks
    let (source, bytes) = file(dir.path(), len);
    let session = fb
        .start(USER, "1234567890", "talk.mp4", len as u64, "video/mp4")
        .await
        .unwrap();
    assert_eq!(session.id, SESSION);
    let mut recorded = 0;
    let err = fb
        .send(USER, &session, &source, 0, |o| recorded = o)
        .await
        .unwrap_err();
    assert_eq!(recorded, 1 << 20);
    let UploadError::Refused(refusal) = err else {
        panic!("{err:?}")
    };
    let verdict = classify(Platform::Facebook, &refusal.answer(), 0, 1);
    assert!(
        matches!(verdict, Verdict::Retry { .. }),
        "code 2 is retried: {verdict:?}"
    );
    let kept = fb.offset(USER, &session).await.unwrap();
    assert_eq!(kept, (1 << 20) + 300_000, "Facebook's offset, not ours");
    let handle = fb
        .send(USER, &session, &source, kept, |o| recorded = o)
        .await
        .unwrap();
    assert_eq!(recorded, len as u64);
    assert!(handle.starts_with("2::"), "{handle}");
    {
        let s = g.lock().unwrap();
        assert_eq!(s.received, bytes);
        assert_eq!(s.accepted, len as u64, "every byte exactly once");
    }
    // Publishing on the Page: a rate limit first, which says how long to wait.
    g.lock().unwrap().throttle_once = true;
    let err = fb
        .publish(
            PAGE,
            "100064123",
            &handle,
            "Right metrics",
            "Ada Lovelace on metrics",
        )
        .await
        .unwrap_err();
    let UploadError::Refused(refusal) = err else {
        panic!("{err:?}")
    };
    let verdict = classify(Platform::Facebook, &refusal.answer(), 1000, 1);
    assert_eq!(
        verdict,
        Verdict::Retry {
            at_unix_s: 1000 + 7 * 60,
            reason: "Facebook (code 4): (#4) Application request limit reached".into()
        }
    );
    let video = fb
        .publish(
            PAGE,
            "100064123",
            &handle,
            "Right metrics",
            "Ada Lovelace on metrics",
        )
        .await
        .unwrap();
    assert_eq!(video, "10159876543210");
    let form = g.lock().unwrap().published[0].clone();
    for (k, v) in [
        ("title", "Right metrics"),
        ("description", "Ada Lovelace on metrics"),
        ("fbuploader_video_file_chunk", handle.as_str()),
        ("access_token", PAGE),
    ] {
        assert!(
            form.contains(&(k.to_string(), v.to_string())),
            "{k}: {form:?}"
        );
    }
    assert_eq!(
        fb.video(PAGE, &video).await.unwrap(),
        PageVideo {
            status: "ready".into(),
            permalink: Some("/100064123/videos/10159876543210/".into())
        }
    );
}

#[tokio::test]
async fn an_expired_token_needs_a_person() {
    let fb = graph(Shared::default()).await;
    let err = fb
        .start("EAAold", "1234567890", "talk.mp4", 10, "video/mp4")
        .await
        .unwrap_err();
    let UploadError::Refused(refusal) = err else {
        panic!("{err:?}")
    };
    let verdict = classify(Platform::Facebook, &refusal.answer(), 0, 1);
    assert!(
        matches!(verdict, Verdict::NeedsAuth { ref reason } if reason.contains("code 190")),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn no_answer_is_recorded_without_the_token_its_address_carries() {
    // Nothing listens there: the request fails before any answer.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let fb = FacebookUploads {
        client: reqwest::Client::new(),
        base_url: format!("http://127.0.0.1:{port}"),
        chunk: 1 << 20,
    };
    let err = fb
        .start(USER, "1234", "talk.mp4", 10, "video/mp4")
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::Transport(_)), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(USER), "the token leaked: {text}");
}

//! Vimeo's upload against a real tus server (`tests/tus/server.mjs`: @tus/server with
//! its file store, from npm; `make tus-server-packages`) behind a stand-in of Vimeo's
//! API that makes each upload on it, as Vimeo's API does with its own. Between the
//! client and the tus server, a TCP relay that can drop the connection in the middle
//! of a PATCH.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vidpipe_platforms::stand_in::NodeServer;
use vidpipe_platforms::vimeo::{VimeoUploads, ACCEPT};
use vidpipe_platforms::{FileSource, UploadError};

const TOKEN: &str = "vimeo-test-token";

type Tus = NodeServer;

fn tus_server(dir: &Path) -> Tus {
    NodeServer::start("server.mjs", dir)
}

/// A TCP relay to `upstream`; once armed with a budget, the connection that carries
/// more than that many bytes towards the server is cut there.
struct Relay {
    addr: String,
    budget: Arc<AtomicI64>,
}

async fn relay(upstream: String) -> Relay {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let budget = Arc::new(AtomicI64::new(i64::MAX));
    let shared = budget.clone();
    tokio::spawn(async move {
        loop {
            let (client, _) = listener.accept().await.unwrap();
            let server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
            let budget = shared.clone();
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let down = tokio::spawn(async move { tokio::io::copy(&mut sr, &mut cw).await });
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let left = budget.fetch_sub(n as i64, Ordering::SeqCst);
                    if left < n as i64 {
                        // Pass what the budget allows, then drop both ends.
                        let pass = left.max(0) as usize;
                        let _ = sw.write_all(&buf[..pass]).await;
                        budget.store(i64::MAX, Ordering::SeqCst);
                        down.abort();
                        return;
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
                let _ = down.await;
            });
        }
    });
    Relay { addr, budget }
}

#[derive(Default)]
struct Api {
    tus_url: String,
    /// The origin the upload links are given under (the relay's).
    link_origin: String,
    requests: Vec<(String, Value)>,
    /// Files PUT to the upload links of text tracks and pictures: (link, type, bytes).
    files: Vec<(String, String, Vec<u8>)>,
}

type Shared = Arc<Mutex<Api>>;

/// Makes an upload of `size` bytes on the tus server, as Vimeo does on its own, and
/// gives its link under the relay's address.
async fn tus_upload(api: &Shared, size: u64) -> String {
    let (tus_url, origin) = {
        let a = api.lock().unwrap();
        (a.tus_url.clone(), a.link_origin.clone())
    };
    let made = reqwest::Client::new()
        .post(&tus_url)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", size)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status().as_u16(), 201);
    let location = made.headers()["location"].to_str().unwrap().to_string();
    let path = location.split_once("/files/").unwrap().1;
    format!("http://{origin}/files/{path}")
}

fn checked(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {TOKEN}")) {
        let body = include_str!("../../../tests/fixtures/platforms/vimeo-unauthenticated.json");
        return Err(Box::new((StatusCode::UNAUTHORIZED, body).into_response()));
    }
    assert_eq!(headers["accept"], ACCEPT);
    Ok(())
}

async fn new_video(
    State(api): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(refused) = checked(&headers) {
        return *refused;
    }
    assert_eq!(body["upload"]["approach"], "tus");
    let size = body["upload"]["size"].as_u64().unwrap();
    let link = tus_upload(&api, size).await;
    api.lock()
        .unwrap()
        .requests
        .push(("/me/videos".into(), body.clone()));
    Json(
        json!({"uri": "/videos/76543", "name": body["name"], "link": "https://vimeo.com/76543",
        "upload": {"approach": "tus", "status": "in_progress", "upload_link": link, "size": size}}),
    )
    .into_response()
}

async fn new_version(
    State(api): State<Shared>,
    UrlPath(id): UrlPath<u64>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(refused) = checked(&headers) {
        return *refused;
    }
    if id != 12345 {
        let body = include_str!("../../../tests/fixtures/platforms/vimeo-not-found.json");
        return (StatusCode::NOT_FOUND, body).into_response();
    }
    let size = body["upload"]["size"].as_u64().unwrap();
    let link = tus_upload(&api, size).await;
    api.lock()
        .unwrap()
        .requests
        .push((format!("/videos/{id}/versions"), body.clone()));
    Json(json!({"uri": format!("/videos/{id}/versions/99"),
        "upload": {"approach": "tus", "status": "in_progress", "upload_link": link, "size": size}}))
    .into_response()
}

async fn record_patch(
    State(api): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(refused) = checked(&headers) {
        return *refused;
    }
    api.lock()
        .unwrap()
        .requests
        .push((format!("PATCH {}", uri.path()), body.clone()));
    Json(json!({"uri": uri.path()})).into_response()
}

/// `POST /videos/{id}/texttracks` or `/pictures`: 201 with the new one's `uri` and an
/// upload `link`.
async fn new_part(
    State(api): State<Shared>,
    UrlPath((id, kind)): UrlPath<(u64, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(refused) = checked(&headers) {
        return *refused;
    }
    assert!(kind == "texttracks" || kind == "pictures", "{kind}");
    let host = headers["host"].to_str().unwrap().to_string();
    let mut a = api.lock().unwrap();
    a.requests.push((format!("POST /videos/{id}/{kind}"), body));
    let n = a.requests.len();
    let made = json!({"uri": format!("/videos/{id}/{kind}/{n}"), "link": format!("http://{host}/links/{n}"),
        "active": false});
    (StatusCode::CREATED, Json(made)).into_response()
}

async fn receive_file(
    State(api): State<Shared>,
    UrlPath(n): UrlPath<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = headers["content-type"].to_str().unwrap().to_string();
    api.lock()
        .unwrap()
        .files
        .push((format!("/links/{n}"), kind, body.to_vec()));
    StatusCode::OK.into_response()
}

struct World {
    _dir: tempfile::TempDir,
    tus: Tus,
    relay: Relay,
    api: Shared,
    vimeo: VimeoUploads,
    source: FileSource,
    bytes: Vec<u8>,
}

async fn world(len: usize) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tus");
    std::fs::create_dir_all(&store).unwrap();
    let tus = tus_server(&store);
    let upstream = tus
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let relay = relay(upstream).await;
    let api = Shared::new(Mutex::new(Api {
        tus_url: tus.url.clone(),
        link_origin: relay.addr.clone(),
        ..Api::default()
    }));
    let app = Router::new()
        .route("/me/videos", post(new_video))
        .route("/videos/{id}/versions", post(new_version))
        .route("/videos/{id}", patch(record_patch))
        .route("/videos/{id}/{kind}", post(new_part))
        .route("/videos/{id}/{kind}/{n}", patch(record_patch))
        .route("/links/{n}", put(receive_file))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
    let path = dir.path().join("talk.mp4");
    std::fs::write(&path, &bytes).unwrap();
    World {
        tus,
        relay,
        api,
        vimeo: VimeoUploads {
            client: reqwest::Client::new(),
            base_url,
            chunk: 1 << 20,
        },
        source: FileSource::open(&path).unwrap(),
        bytes,
        _dir: dir,
    }
}

/// The bytes the tus server stored for the upload at `link`.
fn stored(tus: &Tus, link: &str) -> Vec<u8> {
    let id = link.rsplit('/').next().unwrap();
    std::fs::read(tus.dir.join(id)).unwrap()
}

#[tokio::test]
async fn a_new_video_goes_up_by_tus_and_a_dropped_connection_resumes_at_the_server_s_offset() {
    let w = world(3 << 20).await;
    let size = w.bytes.len() as u64;
    let ticket = w
        .vimeo
        .create(
            TOKEN,
            "Right metrics",
            "Ada Lovelace on metrics",
            "unlisted",
            size,
        )
        .await
        .unwrap();
    assert_eq!(ticket.video_uri, "/videos/76543");
    {
        let api = w.api.lock().unwrap();
        let (path, body) = &api.requests[0];
        assert_eq!(path, "/me/videos");
        assert_eq!(body["name"], "Right metrics");
        assert_eq!(body["privacy"]["view"], "unlisted");
        assert_eq!(body["upload"]["size"], size);
    }
    assert_eq!(w.vimeo.offset(&ticket).await.unwrap(), 0);
    // The connection drops one and a half chunks in.
    w.relay.budget.store((3 << 19) + 4096, Ordering::SeqCst);
    let mut recorded = 0;
    let err = w
        .vimeo
        .send(&ticket, &w.source, 0, |o| recorded = o)
        .await
        .unwrap_err();
    assert!(matches!(err, UploadError::Transport(_)), "{err:?}");
    assert_eq!(recorded, 1 << 20, "the first chunk was confirmed");
    // The server kept part of the second chunk: go on from its offset, not ours.
    // (The server settles the cut PATCH on its own time: ask until it has.)
    let mut kept = w.vimeo.offset(&ticket).await.unwrap();
    for _ in 0..40 {
        if kept > recorded {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        kept = w.vimeo.offset(&ticket).await.unwrap();
    }
    assert!(
        kept > recorded && kept < 2 << 20,
        "the server has {kept} bytes"
    );
    assert!(
        kept > recorded && kept < 2 << 20,
        "the server has {kept} bytes"
    );
    w.vimeo
        .send(&ticket, &w.source, kept, |o| recorded = o)
        .await
        .unwrap();
    assert_eq!(recorded, size);
    assert_eq!(w.vimeo.offset(&ticket).await.unwrap(), size);
    let got = stored(&w.tus, &ticket.upload_link);
    assert_eq!(got.len(), w.bytes.len(), "every byte exactly once");
    assert!(got == w.bytes, "the bytes differ");
}

#[tokio::test]
async fn replacing_sends_the_new_file_to_the_existing_video() {
    let w = world(1 << 20).await;
    let size = w.bytes.len() as u64;
    let ticket = w
        .vimeo
        .replace(TOKEN, "/videos/12345", "talk-week-49.mp4", size)
        .await
        .unwrap();
    assert_eq!(ticket.video_uri, "/videos/12345");
    w.vimeo.send(&ticket, &w.source, 0, |_| {}).await.unwrap();
    assert!(stored(&w.tus, &ticket.upload_link) == w.bytes);
    let (path, body) = w.api.lock().unwrap().requests[0].clone();
    assert_eq!(path, "/videos/12345/versions");
    assert_eq!(body["file_name"], "talk-week-49.mp4");
    assert_eq!(body["upload"]["approach"], "tus");
    assert_eq!(body["upload"]["status"], "in_progress");
    // An unknown video and a refused token come back as Vimeo's answers.
    let err = w
        .vimeo
        .replace(TOKEN, "/videos/999", "x.mp4", size)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UploadError::Refused(r) if r.status == 404),
        "{err:?}"
    );
    let err = w
        .vimeo
        .create("wrong", "n", "d", "nobody", size)
        .await
        .unwrap_err();
    let UploadError::Refused(refusal) = err else {
        panic!("{err:?}")
    };
    let verdict = vidpipe_domain::destinations::answers::classify(
        vidpipe_domain::destinations::Platform::Vimeo,
        &refusal.answer(),
        0,
        1,
    );
    assert!(
        matches!(
            verdict,
            vidpipe_domain::destinations::answers::Verdict::NeedsAuth { .. }
        ),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn details_captions_and_the_cover_reach_the_video() {
    let w = world(1024).await;
    w.vimeo
        .set_details(
            TOKEN,
            "/videos/76543",
            "Right metrics",
            "Ada Lovelace",
            "anybody",
        )
        .await
        .unwrap();
    let vtt = b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello.\n".to_vec();
    let track = w
        .vimeo
        .add_captions(TOKEN, "/videos/76543", "en", "English", vtt.clone())
        .await
        .unwrap();
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 9];
    let picture = w
        .vimeo
        .set_picture(TOKEN, "/videos/76543", jpeg.clone(), "image/jpeg")
        .await
        .unwrap();
    let a = w.api.lock().unwrap();
    let calls: Vec<&str> = a.requests.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        calls,
        [
            "PATCH /videos/76543",
            "POST /videos/76543/texttracks",
            track.as_str().replace("/videos", "PATCH /videos").as_str(),
            "POST /videos/76543/pictures",
            picture
                .as_str()
                .replace("/videos", "PATCH /videos")
                .as_str(),
        ]
    );
    assert_eq!(a.requests[0].1["privacy"]["view"], "anybody");
    assert_eq!(a.requests[1].1["type"], "captions");
    assert_eq!(a.requests[1].1["language"], "en");
    assert_eq!(a.requests[2].1["active"], true);
    assert_eq!(a.requests[4].1["active"], true);
    assert_eq!(a.files.len(), 2);
    assert_eq!((a.files[0].1.as_str(), &a.files[0].2), ("text/vtt", &vtt));
    assert_eq!(
        (a.files[1].1.as_str(), &a.files[1].2),
        ("image/jpeg", &jpeg)
    );
}

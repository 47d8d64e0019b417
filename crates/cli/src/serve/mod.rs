//! `vidpipe serve`: the web app over an output folder. The pages are server-rendered
//! (maud, as report.html); a little plain JavaScript uploads with a progress bar,
//! follows progress by server-sent events and plays HLS with the vendored hls.js.
//!
//! Routes: `/` the library; `/videos/{id}` a video (`?t=` seconds to start at);
//! `/search?q=`; `/media/{id}/…` a video's files; `/assets/…`; the JSON API under
//! `/api/` (see `api.rs`). Every request passes [`guard`]: the token when one is set,
//! and, for anything but GET and HEAD, the same-origin rule and the CSRF token.

// Helpers return the error `Response` a handler answers with: it is large, but it is
// built once, on the way out of a request.
#![allow(clippy::result_large_err)]

mod api;
mod events;
mod links;
mod pages;
mod upload;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use subtle::ConstantTimeEq;
use tower::ServiceExt;
use tower_http::services::ServeDir;
use vidpipe_domain::keys::VideoId;
use vidpipe_local::{LocalStore, SqliteRecords};

use crate::queue::Queue;

/// What every handler shares.
pub struct App {
    pub out: PathBuf,
    pub store: LocalStore,
    pub records: SqliteRecords,
    pub queue: Queue,
    /// Put in every page and form; required of every unsafe request from a browser.
    pub csrf: String,
    /// Required of every request when set (`--token`).
    pub token: Option<String>,
    pub allow_private_links: bool,
    /// The largest upload, in bytes.
    pub max_upload_bytes: u64,
}

pub type Shared = Arc<App>;

/// The name of the cookie that carries the token once a browser gave it in `?token=`.
const TOKEN_COOKIE: &str = "vidpipe_token";

const HLS_JS: &[u8] = include_bytes!("../../assets/hls/hls.min.js");
const HLS_LICENSE: &[u8] = include_bytes!("../../assets/hls/LICENSE");
const APP_JS: &str = include_str!("app.js");

/// Every route.
pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(pages::library))
        .route("/videos/{id}", get(pages::video))
        .route("/videos/{id}/edit", post(pages::edit))
        .route("/search", get(pages::search))
        .route("/fragments/videos/{id}", get(pages::row_fragment))
        .route("/media/{id}/{*path}", get(media))
        .route(
            "/assets/hls.min.js",
            get(|| asset(HLS_JS, "text/javascript")),
        )
        .route(
            "/assets/hls.LICENSE",
            get(|| asset(HLS_LICENSE, "text/plain")),
        )
        .route(
            "/assets/app.js",
            get(|| asset(APP_JS.as_bytes(), "text/javascript")),
        )
        .merge(api::routes())
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

async fn asset(bytes: &'static [u8], kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        bytes,
    )
        .into_response()
}

/// A video's file: `<out>/<id>/<path>`, with ranges (the players seek). The id must be
/// a video id and the path stay inside its folder, else 404.
async fn media(
    State(app): State<Shared>,
    UrlPath((id, path)): UrlPath<(String, String)>,
    request: Request,
) -> Response {
    let Some(id) = VideoId::parse(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if path.split('/').any(|part| part == ".." || part.is_empty()) || path.contains('\\') {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (mut parts, body) = request.into_parts();
    parts.uri = match format!("/{path}").parse() {
        Ok(uri) => uri,
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    let dir = app.store.video_dir(&id);
    match ServeDir::new(dir)
        .oneshot(Request::from_parts(parts, body))
        .await
    {
        Ok(r) => r.map(Body::new),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// An error as the API and the pages answer it: the status and a sentence.
pub fn refuse(status: StatusCode, reason: impl Into<String>) -> Response {
    let reason = reason.into();
    (status, axum::Json(serde_json::json!({ "error": reason }))).into_response()
}

/// The token and cross-site checks on every request.
///
/// - With `--token`: the request carries it as `Authorization: Bearer …`, in the
///   `vidpipe_token` cookie, or as `?token=` (a browser's first visit: the answer sets
///   the cookie). Compared in constant time. Else 401.
/// - A request that changes something (not GET or HEAD) from a browser must come from
///   this origin (`Sec-Fetch-Site: same-origin`, or an `Origin` equal to the `Host`),
///   and a browser's script must carry the CSRF token (`X-CSRF-Token` header; a page's
///   urlencoded form carries it as its `csrf` field, checked by the form's handler). Else 403. Programs
///   that send neither header (curl, scripts) are not browsers and pass.
async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let set_cookie = match check(&app, &request) {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let mut response = next.run(request).await;
    if let Some(c) = set_cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert(header::SET_COOKIE, c);
    }
    response
}

/// [`guard`]'s checks: the refusal, or the cookie to set (a browser gave `?token=`).
fn check(app: &App, request: &Request) -> Result<Option<String>, Response> {
    let headers = request.headers();
    let mut set_cookie = None;
    if let Some(token) = &app.token {
        let query_token = query_param(request.uri().query().unwrap_or(""), "token");
        let given = bearer(headers)
            .or_else(|| cookie(headers, TOKEN_COOKIE))
            .or(query_token.clone());
        let ok = given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(token.as_bytes())));
        if !ok {
            return Err(refuse(StatusCode::UNAUTHORIZED, "this server needs its token (--token): Authorization: Bearer <token>, or ?token=<token> once in a browser"));
        }
        if query_token.is_some() {
            set_cookie = Some(format!(
                "{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
            ));
        }
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        same_origin(headers).map_err(|reason| refuse(StatusCode::FORBIDDEN, reason))?;
        if is_browser(headers) && !has_csrf_header(app, headers) && !is_form_post(headers) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token (X-CSRF-Token)",
            ));
        }
    }
    Ok(set_cookie)
}

/// Whether the request came from a browser: browsers send `Sec-Fetch-Site` (Fetch
/// Metadata) or `Origin` with every unsafe request.
fn is_browser(headers: &HeaderMap) -> bool {
    headers.contains_key("sec-fetch-site") || headers.contains_key(header::ORIGIN)
}

/// A page's form post (urlencoded): its handler checks the `csrf` field.
fn is_form_post(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
}

fn has_csrf_header(app: &App, headers: &HeaderMap) -> bool {
    headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| app.csrf_matches(v))
}

/// The same-origin rule for unsafe requests (as Go's `http.CrossOriginProtection`):
/// `Sec-Fetch-Site` when sent, else `Origin` against `Host`.
fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match text("sec-fetch-site") {
        Some("same-origin" | "none") => return Ok(()),
        Some(_) => return Err("cross-site request refused"),
        None => {}
    }
    match (text("origin"), text("host")) {
        (None, _) => Ok(()),
        (Some(origin), Some(host)) if origin.split_once("://").is_some_and(|(_, h)| h == host) => {
            Ok(())
        }
        _ => Err("cross-origin request refused"),
    }
}

impl App {
    /// Whether `given` is this server's CSRF token (constant time).
    pub fn csrf_matches(&self, given: &str) -> bool {
        bool::from(given.as_bytes().ct_eq(self.csrf.as_bytes()))
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(name)?
                .strip_prefix('=')
                .map(str::to_string)
        })
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A random 128-bit token, hex.
pub fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn unsafe_requests_from_other_sites_are_refused() {
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(same_origin(&headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(same_origin(&headers(&[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080")
        ]))
        .is_ok());
        assert!(same_origin(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8080")
        ]))
        .is_err());
        assert!(same_origin(&headers(&[])).is_ok(), "not a browser");
    }

    #[test]
    fn the_token_is_read_from_a_bearer_header_or_the_cookie() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc")])),
            Some("abc".into())
        );
        assert_eq!(
            cookie(
                &headers(&[("cookie", "a=1; vidpipe_token=xyz")]),
                TOKEN_COOKIE
            ),
            Some("xyz".into())
        );
        assert_eq!(query_param("q=1&token=t%20u", "token"), Some("t u".into()));
        let t = random_token().unwrap();
        assert_eq!(t.len(), 32);
        assert_ne!(t, random_token().unwrap());
    }
}

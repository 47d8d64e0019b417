//! The JSON API, for scripts (the pages use the same routes):
//!
//! - `POST /api/videos`: `multipart/form-data` with a `file` (and an optional `sidecar`
//!   JSON), or JSON `{"url": "…"}` → `202 {"id": …, "job": n}` (`id` is `null` for a
//!   link until it is downloaded: follow the job).
//! - `GET /api/videos` → every video's summary, newest first; `GET /api/videos/{id}` →
//!   its summary with the whole record under `record`.
//! - `GET /api/videos/{id}/events`, `GET /api/events`: server-sent events (`events.rs`).
//! - `GET /api/search?q=…[&limit=n]` → hits: `video_id`, `title`, `field`, `start_s`
//!   (seconds, transcript hits), `text`, `snippet_html`.
//! - `GET /api/jobs` → the queue's jobs.
//!
//! Errors are `{"error": "…"}` with 400 (bad input), 404, 413 (too large), 507 (no
//! room on disk).

use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{Stage, StageStatus, VideoRecord, VideoStatus};

use super::{events, links, refuse, upload, Shared};
use crate::queue::{Input, JobView};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/videos",
            get(list).post(submit).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/videos/{id}", get(one))
        .route("/api/videos/{id}/events", get(events::one))
        .route("/api/events", get(events::all))
        .route("/api/search", get(search))
        .route("/api/jobs", get(jobs))
}

/// A video as the library lists it.
#[derive(Debug, Clone, Serialize)]
pub struct VideoSummary {
    pub id: String,
    pub title: String,
    pub status: &'static str,
    /// Of the clip, in seconds, once planned.
    pub duration_s: Option<f64>,
    /// The cover's URL on this server.
    pub cover_url: Option<String>,
    pub stages: Vec<StageView>,
    /// The share of the stages settled (done, skipped or failed), 0–1.
    pub progress: f64,
    pub failure: Option<String>,
    pub links: Vec<String>,
    pub version: u64,
    pub created_at_unix_s: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageView {
    pub stage: &'static str,
    pub status: &'static str,
    pub detail: Option<String>,
}

impl VideoSummary {
    pub fn of(r: &VideoRecord) -> VideoSummary {
        let stages: Vec<StageView> = Stage::ALL
            .iter()
            .map(|s| StageView {
                stage: s.as_str(),
                status: r.stage(*s).as_str(),
                detail: r.stages.get(s).and_then(|st| st.detail.clone()),
            })
            .collect();
        let settled = Stage::ALL
            .iter()
            .filter(|s| r.stage(**s).is_settled() || r.stage(**s) == StageStatus::Failed)
            .count();
        let progress = match r.status {
            VideoStatus::Published | VideoStatus::Failed => 1.0,
            VideoStatus::Processing => settled as f64 / Stage::ALL.len() as f64,
        };
        VideoSummary {
            id: r.id.to_string(),
            title: r.title(),
            status: r.status.as_str(),
            duration_s: r.plan.as_ref().map(|p| p.clip.duration_s()),
            cover_url: r.cover_key.as_deref().and_then(|k| media_url(&r.id, k)),
            stages,
            progress,
            failure: r
                .failure
                .as_ref()
                .map(|f| format!("{} failed: {}", f.stage, f.reason)),
            links: r.links.clone(),
            version: r.version,
            created_at_unix_s: r.created_at_unix_s,
        }
    }
}

/// The URL of a stored object of video `id` (`media/<id>/…` → `/media/<id>/…`,
/// `transcripts/<id>/…` → `/media/<id>/transcripts/…`), as the store lays them out.
pub fn media_url(id: &VideoId, key: &str) -> Option<String> {
    let media = format!("media/{id}/");
    let transcripts = format!("transcripts/{id}/");
    if let Some(rest) = key.strip_prefix(&media) {
        Some(format!("/media/{id}/{rest}"))
    } else {
        key.strip_prefix(&transcripts)
            .map(|rest| format!("/media/{id}/transcripts/{rest}"))
    }
}

/// Every record, newest first.
pub fn all_records(app: &super::App) -> Result<Vec<VideoRecord>, Response> {
    app.records
        .all()
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn list(State(app): State<Shared>) -> Response {
    match all_records(&app) {
        Ok(all) => Json(all.iter().map(VideoSummary::of).collect::<Vec<_>>()).into_response(),
        Err(r) => r,
    }
}

/// The record of `id`, or a 404 that names it.
pub async fn record_of(app: &super::App, id: &str) -> Result<VideoRecord, Response> {
    let not_found = || refuse(StatusCode::NOT_FOUND, format!("no video with id {id}"));
    let id = VideoId::parse(id).ok_or_else(not_found)?;
    match app.records.get(&id).await {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(not_found()),
        Err(e) => Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn one(State(app): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    match record_of(&app, &id).await {
        Ok(r) => {
            let mut v = serde_json::to_value(VideoSummary::of(&r)).unwrap_or_default();
            v["record"] = serde_json::to_value(&r).unwrap_or_default();
            Json(v).into_response()
        }
        Err(not_found) => {
            // Uploaded, not yet ingested: the queue knows it.
            let queued = app
                .queue
                .jobs()
                .into_iter()
                .find(|j| j.video_id.as_deref() == Some(id.as_str()));
            match queued {
                Some(job) => Json(serde_json::json!({ "id": id, "status": job.state, "job": job }))
                    .into_response(),
                None => not_found,
            }
        }
    }
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    pub limit: Option<usize>,
}

/// Brings the index up to date and searches it, off the runtime's thread.
pub async fn run_search(
    app: &Shared,
    q: &str,
    limit: usize,
) -> Result<Vec<vidpipe_local::SearchHit>, Response> {
    let (app, q) = (app.clone(), q.to_string());
    tokio::task::spawn_blocking(move || {
        app.records.sync_search(&app.store)?;
        app.records.search(&q, limit)
    })
    .await
    .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn search(State(app): State<Shared>, Query(q): Query<SearchQuery>) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    match run_search(&app, &q.q, limit).await {
        Ok(hits) => Json(hits).into_response(),
        Err(r) => r,
    }
}

async fn jobs(State(app): State<Shared>) -> Json<Vec<JobView>> {
    Json(app.queue.jobs())
}

#[derive(Deserialize)]
struct LinkRequest {
    url: String,
}

/// `POST /api/videos`: a file (multipart) or a link (JSON).
async fn submit(State(app): State<Shared>, request: Request) -> Response {
    let kind = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if kind.starts_with("multipart/form-data") {
        return upload::receive(app, request).await;
    }
    if !kind.starts_with("application/json") {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send multipart/form-data with a `file`, or JSON {\"url\": …}",
        );
    }
    let bytes = match axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        Ok(b) => b,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("the request body: {e}")),
    };
    let link: LinkRequest = match serde_json::from_slice(&bytes) {
        Ok(l) => l,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"url\": \"…\"}}: {e}"),
            )
        }
    };
    if let Err(reason) = links::check(&link.url, app.allow_private_links).await {
        return refuse(StatusCode::BAD_REQUEST, reason);
    }
    let job = app.queue.submit(Input::Link(link.url.trim().to_string()));
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "id": null, "job": job })),
    )
        .into_response()
}

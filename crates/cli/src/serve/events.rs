//! Live progress as server-sent events (WHATWG HTML, "Server-sent events"):
//! `GET /api/events` for every video and job, `GET /api/videos/{id}/events` for one.
//!
//! The stream looks at the database's record versions every [`POLL`], so a run started
//! from the command line (another process) is seen as well as the server's own. Each
//! change is an event `video` whose data is the video's summary (`api::VideoSummary`);
//! each change of a queued job is an event `job` (`queue::JobView`). On connecting, the
//! stream first sends every video not yet settled (one video's stream: that video) and
//! every job, so a page reloaded mid-run is current at once.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::VideoStatus;

use super::api::VideoSummary;
use super::Shared;
use crate::queue::JobView;

/// How often the stream looks for changes.
const POLL: Duration = Duration::from_millis(400);

struct Watch {
    app: Shared,
    /// Only this video, for a video's stream.
    only: Option<String>,
    versions: HashMap<String, u64>,
    jobs: Vec<JobView>,
    ready: VecDeque<Event>,
    first: bool,
}

impl Watch {
    /// The events since the last look.
    async fn look(&mut self) {
        let versions = self.app.records.versions().unwrap_or_default();
        for (id, version) in versions {
            if self.only.as_ref().is_some_and(|o| *o != id) {
                continue;
            }
            if self.versions.get(&id) == Some(&version) {
                continue;
            }
            let seen_before = self.versions.insert(id.clone(), version).is_some();
            let Some(vid) = VideoId::parse(&id) else {
                continue;
            };
            let Ok(Some(record)) = self.app.records.get(&vid).await else {
                continue;
            };
            // On connecting, settled videos are what the page already shows.
            let settled = record.status != VideoStatus::Processing;
            if self.first && settled && self.only.is_none() && !seen_before {
                continue;
            }
            if let Ok(e) = Event::default()
                .event("video")
                .json_data(VideoSummary::of(&record))
            {
                self.ready.push_back(e);
            }
        }
        let jobs = self.app.queue.jobs();
        for job in &jobs {
            let wanted = match &self.only {
                Some(id) => job.video_id.as_deref() == Some(id.as_str()),
                None => true,
            };
            if wanted && !self.jobs.contains(job) {
                if let Ok(e) = Event::default().event("job").json_data(job) {
                    self.ready.push_back(e);
                }
            }
        }
        self.jobs = jobs;
        self.first = false;
    }
}

fn stream_of(app: Shared, only: Option<String>) -> impl Stream<Item = Result<Event, Infallible>> {
    let watch = Watch {
        app,
        only,
        versions: HashMap::new(),
        jobs: Vec::new(),
        ready: VecDeque::new(),
        first: true,
    };
    stream::unfold(watch, |mut w| async move {
        loop {
            if let Some(e) = w.ready.pop_front() {
                return Some((Ok(e), w));
            }
            if !w.first {
                tokio::time::sleep(POLL).await;
            }
            w.look().await;
        }
    })
}

pub async fn all(State(app): State<Shared>) -> Response {
    Sse::new(stream_of(app, None))
        .keep_alive(KeepAlive::default())
        .into_response()
}

pub async fn one(State(app): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    if VideoId::parse(&id).is_none() {
        return super::refuse(
            axum::http::StatusCode::NOT_FOUND,
            format!("no video with id {id}"),
        );
    }
    Sse::new(stream_of(app, Some(id)))
        .keep_alive(KeepAlive::default())
        .into_response()
}

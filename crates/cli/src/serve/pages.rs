//! The pages: the library, a video, search; server-rendered with maud. What moves on
//! them (upload progress, live stages, the HLS player) is `app.js`.

use axum::extract::{Form, Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use vidpipe_domain::ports::{Publisher, UpdateResult, VideoRecords};
use vidpipe_domain::record::{OutputKind, VideoRecord, VideoStatus};
use vidpipe_domain::sidecar::{Sidecar, Speaker};
use vidpipe_domain::time::hhmmss_mmm;
use vidpipe_local::publish::LoadedSpeech;
use vidpipe_local::{report, ReportPublisher};

use super::api::{all_records, media_url, record_of, run_search, SearchQuery, VideoSummary};
use super::Shared;
use crate::queue::JobState;

const CSS: &str = "
header{display:flex;gap:1rem;align-items:center;border-bottom:1px solid #ddd;padding-bottom:.6rem;margin-bottom:1rem}
header a.home{font-weight:700;text-decoration:none;color:#1d1d1f} header form{margin-left:auto}
#drop{border:2px dashed #99a;border-radius:8px;padding:1.2rem;text-align:center;margin:1rem 0}
#drop.over{background:#eef} progress{width:100%} .stages span{font-size:11px;border-radius:3px;padding:0 4px;margin-right:2px;background:#eee}
.stages .done{background:#cfe8d4} .stages .running{background:#fde9b8} .stages .failed{background:#f6c4c4} .stages .skipped{color:#888}
td img.cover{width:96px;border-radius:4px} .hit{margin:.8rem 0} mark{background:#ffe27a}
form.edit label{display:block;margin-top:.5rem;font-weight:600} form.edit input,form.edit textarea{width:100%;font:inherit}
";

/// A whole page around `content`, with the CSRF token for the scripts; `player`: the
/// page has the HLS player (hls.js is loaded).
fn page(app: &super::App, title: &str, content: Markup, player: bool) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(app.csrf);
                title { (title) " — vidpipe" }
                style { (PreEscaped(report::css())) (PreEscaped(CSS)) }
            }
            body {
                header {
                    a.home href="/" { "vidpipe" }
                    a href="/" { "Library" }
                    form action="/search" method="get" {
                        input type="search" name="q" placeholder="Search titles, tags and what was said" aria-label="search";
                        button { "Search" }
                    }
                }
                (content)
                @if player { script src="/assets/hls.min.js" {} }
                script src="/assets/app.js" {}
            }
        }
    };
    Html(markup.into_string())
}

fn error_page(app: &super::App, status: StatusCode, message: &str) -> Response {
    (
        status,
        page(
            app,
            "Error",
            html! { h1 { (status.as_str()) } p.bad { (message) } },
            false,
        ),
    )
        .into_response()
}

/// One video's row in the library.
pub fn row(s: &VideoSummary) -> Markup {
    html! {
        tr id=(format!("v-{}", s.id)) data-status=(s.status) {
            td { @if let Some(c) = &s.cover_url { img.cover src=(c) alt="cover" loading="lazy"; } }
            td {
                a href=(format!("/videos/{}", s.id)) { (s.title) }
                br; small.muted { code { (s.id) } }
            }
            td { @if let Some(d) = s.duration_s { (hhmmss_mmm(d)) } }
            td.status { (s.status) @if let Some(f) = &s.failure { br; small.bad { (f) } } }
            td {
                div.stages { @for st in &s.stages { span class=(st.status) title=(st.detail.clone().unwrap_or_default()) { (st.stage) } } }
                progress max="1" value=(format!("{:.3}", s.progress)) {}
            }
        }
    }
}

/// `GET /`: every video, newest first, the queue, the drop zone and the link box.
pub async fn library(State(app): State<Shared>) -> Response {
    let records = match all_records(&app) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let summaries: Vec<VideoSummary> = records.iter().map(VideoSummary::of).collect();
    let waiting: Vec<_> = app
        .queue
        .jobs()
        .into_iter()
        .filter(|j| j.state != JobState::Published)
        .collect();
    let content = html! {
        h1 { "Library" }
        div #drop data-max-bytes=(app.max_upload_bytes) {
            p { "Drop a video here, or " label { "choose one: " input #file type="file" accept="video/*,audio/*"; } }
            progress #upload-progress max="1" value="0" hidden {}
        }
        form #link-form {
            input #link type="url" name="url" placeholder="https://… a page with a video (YouTube and others)" size="60" required;
            " " button { "Fetch and process" }
        }
        p #message role="status" {}
        h2 { "Queue" }
        ul #jobs {
            @for j in &waiting {
                li id=(format!("job-{}", j.job)) { (j.input) " — " (j.state.as_str()) @if let Some(d) = &j.detail { ": " (d) } }
            }
        }
        h2 { "Videos" }
        table #videos {
            thead { tr { th { "cover" } th { "title" } th { "duration" } th { "status" } th { "stages" } } }
            tbody { @for s in &summaries { (row(s)) } }
        }
    };
    page(&app, "Library", content, false).into_response()
}

/// `GET /fragments/videos/{id}`: one row, for the live library.
pub async fn row_fragment(State(app): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    match record_of(&app, &id).await {
        Ok(r) => Html(row(&VideoSummary::of(&r)).into_string()).into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub struct VideoQuery {
    /// Seconds to start the player at.
    t: Option<f64>,
}

/// `GET /videos/{id}`: the report's content, the stages live, the edit form.
pub async fn video(
    State(app): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<VideoQuery>,
) -> Response {
    let record = match record_of(&app, &id).await {
        Ok(r) => r,
        Err(_) => {
            return error_page(
                &app,
                StatusCode::NOT_FOUND,
                &format!("no video with id {id}"),
            )
        }
    };
    let speech = match LoadedSpeech::of(&app.store, &record).await {
        Ok(s) => s,
        Err(e) => return error_page(&app, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let rel = |key: &str| media_url(&record.id, key).unwrap_or_default();
    let hls = record
        .outputs_of(OutputKind::HlsMaster)
        .next()
        .and_then(|m| media_url(&record.id, &m.key));
    let summary = VideoSummary::of(&record);
    let start = q.t.filter(|t| t.is_finite() && *t >= 0.0);
    let content = html! {
        div #video data-id=(record.id) data-status=(summary.status) data-start=[start.map(|t| format!("{t:.2}"))] {
            table { tbody { (row(&summary)) } }
            (report::body(&record, &rel, speech.view().as_ref(), hls.as_deref()))
            (publishing(&record))
            (edit_form(&app, &record))
        }
    };
    page(&app, &record.title(), content, true).into_response()
}

/// Where the video is published: the links it has (the destinations come with the
/// publishing issue's work).
fn publishing(record: &VideoRecord) -> Markup {
    html! {
        h2 { "Publishing" }
        @if record.links.is_empty() { p.muted { "Not published yet." } }
        ul { @for l in &record.links { li { code { (l) } } } }
    }
}

fn edit_form(app: &super::App, record: &VideoRecord) -> Markup {
    let sidecar = record.sidecar.clone().unwrap_or_default();
    let speakers: Vec<String> = sidecar
        .speakers
        .iter()
        .map(|s| match &s.email {
            Some(e) => format!("{} <{e}>", s.name),
            None => s.name.clone(),
        })
        .collect();
    html! {
        h2 { "Edit" }
        form.edit method="post" action=(format!("/videos/{}/edit", record.id)) {
            input type="hidden" name="csrf" value=(app.csrf);
            label for="title" { "Title" }
            input #title name="title" value=(record.title());
            label for="description" { "Description (the summary; speakers and tags are added to it)" }
            textarea #description name="description" rows="4" { (sidecar.description.unwrap_or_default()) }
            label for="speakers" { "Speakers (one a line: Name <email>)" }
            textarea #speakers name="speakers" rows="3" { (speakers.join("\n")) }
            label for="tags" { "Tags (comma-separated)" }
            input #tags name="tags" value=(sidecar.tags.join(", "));
            p { button { "Save" } }
        }
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    csrf: String,
    title: String,
    description: String,
    speakers: String,
    tags: String,
}

/// Parses `Name <email>` lines.
fn parse_speakers(text: &str) -> Vec<Speaker> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once('<') {
            Some((name, rest)) => Speaker {
                name: name.trim().to_string(),
                email: Some(rest.trim_end_matches('>').trim().to_string())
                    .filter(|e| !e.is_empty()),
            },
            None => Speaker {
                name: line.to_string(),
                email: None,
            },
        })
        .collect()
}

/// Applies an edit to a record: the sidecar's title, description, speakers and tags;
/// the hashtags and description composed again from them.
pub fn apply_edit(record: &mut VideoRecord, form: &EditForm) {
    let mut sidecar: Sidecar = record.sidecar.clone().unwrap_or_default();
    let title = form.title.trim();
    sidecar.title = (!title.is_empty()).then(|| title.to_string());
    let description = form.description.trim();
    sidecar.description = (!description.is_empty()).then(|| description.to_string());
    sidecar.speakers = parse_speakers(&form.speakers);
    sidecar.tags = form
        .tags
        .split(',')
        .map(|t| t.trim().trim_start_matches('#').to_string())
        .filter(|t| !t.is_empty())
        .collect();
    record.sidecar = Some(sidecar);
    if record.status == VideoStatus::Published {
        vidpipe_domain::stages::compose_tags_and_description(record, &Default::default());
    }
}

/// `POST /videos/{id}/edit`: saves, re-writes report.html of a published video, and
/// goes back to the page.
pub async fn edit(
    State(app): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Form(form): Form<EditForm>,
) -> Response {
    if !app.csrf_matches(&form.csrf) {
        return error_page(
            &app,
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or wrong: reload the page",
        );
    }
    for _ in 0..5 {
        let mut record = match record_of(&app, &id).await {
            Ok(r) => r,
            Err(r) => return r,
        };
        apply_edit(&mut record, &form);
        match app.records.update(&record).await {
            Ok(UpdateResult::Stored) => {
                if record.status == VideoStatus::Published {
                    let publisher = ReportPublisher { store: &app.store };
                    if let Err(e) = publisher.publish(&record).await {
                        return error_page(
                            &app,
                            StatusCode::INTERNAL_SERVER_ERROR,
                            &format!("saved, but report.html could not be written: {e}"),
                        );
                    }
                }
                return Redirect::to(&format!("/videos/{id}")).into_response();
            }
            Ok(UpdateResult::Conflict) => continue,
            Err(e) => return error_page(&app, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    }
    error_page(
        &app,
        StatusCode::CONFLICT,
        "the video kept changing while it was saved: try again",
    )
}

/// `GET /search?q=`: the hits, each linking to its moment.
pub async fn search(State(app): State<Shared>, Query(q): Query<SearchQuery>) -> Response {
    let hits = match run_search(&app, &q.q, q.limit.unwrap_or(50).clamp(1, 500)).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let content = html! {
        h1 { "Search" }
        form action="/search" method="get" { input type="search" name="q" value=(q.q); " " button { "Search" } }
        @if !q.q.trim().is_empty() { p.muted { (hits.len()) " hits for “" (q.q) "”" } }
        @for h in &hits {
            @let at = h.start_s.map(|t| format!("?t={t:.2}")).unwrap_or_default();
            div.hit {
                a.hit-link href=(format!("/videos/{}{at}", h.video_id)) { (h.title) }
                " " span.muted { (format!("{:?}", h.field).to_lowercase()) @if let Some(t) = h.start_s { " at " (hhmmss_mmm(t)) } }
                br; span.snippet { (PreEscaped(&h.snippet_html)) }
            }
        }
    };
    page(&app, "Search", content, false).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidpipe_domain::VideoId;

    #[test]
    fn an_edit_sets_the_sidecar_and_recomposes_a_published_description() {
        let mut r = VideoRecord::new(
            VideoId::parse("00000000000000dd").unwrap(),
            "uploads/a.mp4",
            "/a.mp4",
        );
        r.status = VideoStatus::Published;
        let form = EditForm {
            csrf: String::new(),
            title: " Metrics at scale ".into(),
            description: "How we measure.".into(),
            speakers: "Ada Lovelace <ada@example.org>\n\nGrace Hopper".into(),
            tags: "#observability, metrics,".into(),
        };
        apply_edit(&mut r, &form);
        let s = r.sidecar.as_ref().unwrap();
        assert_eq!(r.title(), "Metrics at scale");
        assert_eq!(s.speakers.len(), 2);
        assert_eq!(s.speakers[0].email.as_deref(), Some("ada@example.org"));
        assert_eq!(s.speakers[1].email, None);
        assert_eq!(s.tags, ["observability", "metrics"]);
        let d = r.description.as_deref().unwrap();
        assert!(
            d.contains("How we measure.")
                && d.contains("Ada Lovelace")
                && d.contains("Grace Hopper"),
            "{d}"
        );
        assert!(
            r.hashtags
                .iter()
                .any(|t| t.eq_ignore_ascii_case("#observability")),
            "{:?}",
            r.hashtags
        );
    }
}

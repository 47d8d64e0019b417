//! Each destination's own state, as the video's record will keep it: written before
//! bytes move, so that a replayed event, a crash or a timeout resumes an upload from the
//! offset the platform confirms instead of starting a second one.
//!
//! ```text
//! pending ──start──▶ uploading{session, offset} ──all bytes──▶ processing{id} ──▶ done{id, url}
//!    ▲                    │  ▲ refusal: retry/defer ──▶ deferred{until} ──time comes──┘ (back where it was)
//!    │                    │  └──────── resume from the platform's offset
//!    └─ session expired ──┘        needs-auth{reason} · failed{reason}: settled, never retried blindly
//! ```

use serde::{Deserialize, Serialize};

use super::answers::Verdict;
use super::upload::{Cut, Extra};
use super::DestinationRequest;
use crate::record::Lease;

/// Where one destination stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DestinationState {
    /// Nothing sent yet.
    Pending,
    /// An upload session exists (YouTube's session URI, Vimeo's upload link,
    /// Facebook's `upload:` id) and the platform has confirmed `offset` bytes.
    Uploading {
        session: String,
        offset: u64,
    },
    /// Every byte is in; the platform is processing the video `platform_id`.
    Processing {
        platform_id: String,
    },
    Done {
        platform_id: String,
        url: String,
    },
    /// Waiting for `until_unix_s` (a rate limit or a spent quota), then going on from
    /// `resume` (where it was).
    Deferred {
        until_unix_s: i64,
        reason: String,
        resume: Box<DestinationState>,
    },
    /// The platform refused the credentials: a person must renew them, and then
    /// the destination goes on from `resume` (where it was).
    NeedsAuth {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Box<DestinationState>>,
    },
    Failed {
        reason: String,
    },
}

/// One destination of a video: what was asked and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    pub request: DestinationRequest,
    pub state: DestinationState,
    /// Refusals met so far in a row (the backoff's attempt count).
    #[serde(default)]
    pub attempts: u32,
    /// Which file goes there: the video, or its vertical cut (a second upload when the
    /// request asks for `vertical`).
    #[serde(default)]
    pub cut: Cut,
    /// The finishing steps made (thumbnail, captions, playlist), each recorded once
    /// made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras_done: Vec<Extra>,
    /// What went wrong without stopping the upload (a playlist that does not exist).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Who is moving the destination now, until when: a second run (a replayed event,
    /// the scheduled pass) leaves it alone until the lease runs out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
}

/// What to do with a destination now.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Start an upload (make the session, record it, then send from 0).
    Start,
    /// Ask the platform how far the session is, and send from there.
    Resume {
        session: String,
        recorded_offset: u64,
    },
    /// Ask the platform whether the video is ready.
    Poll { platform_id: String },
    /// Nothing before `until_unix_s`.
    Wait { until_unix_s: i64 },
    /// Settled: done, failed or waiting for a person.
    Nothing,
}

impl Destination {
    pub fn new(request: DestinationRequest) -> Destination {
        Destination::of_cut(request, Cut::Full)
    }

    /// A destination for one file of the video.
    pub fn of_cut(request: DestinationRequest, cut: Cut) -> Destination {
        Destination {
            request,
            state: DestinationState::Pending,
            attempts: 0,
            cut,
            extras_done: Vec::new(),
            notes: Vec::new(),
            lease: None,
        }
    }

    /// The destinations `requests` make: one per request, and a second for the
    /// vertical cut where one asks for it.
    pub fn all_of(requests: &[DestinationRequest]) -> Vec<Destination> {
        let mut out = Vec::new();
        for r in requests {
            out.push(Destination::of_cut(r.clone(), Cut::Full));
            if r.vertical {
                out.push(Destination::of_cut(r.clone(), Cut::Vertical));
            }
        }
        out
    }

    /// `youtube`, or `youtube (vertical)` for the vertical cut.
    pub fn label(&self) -> String {
        match self.cut {
            Cut::Full => self.request.to.name().to_string(),
            Cut::Vertical => format!("{} (vertical)", self.request.to.name()),
        }
    }

    /// The state in words: `done https://…`, `deferred until 2026-…: reason`.
    pub fn describe(&self) -> String {
        match &self.state {
            DestinationState::Pending => "pending".into(),
            DestinationState::Uploading { offset, .. } => {
                format!("uploading ({offset} bytes confirmed)")
            }
            DestinationState::Processing { platform_id } => {
                format!("processing (id {platform_id})")
            }
            DestinationState::Done { url, .. } => format!("done {url}"),
            DestinationState::Deferred {
                until_unix_s,
                reason,
                ..
            } => format!(
                "deferred until {}: {reason}",
                super::clock::format_utc(*until_unix_s)
            ),
            DestinationState::NeedsAuth { reason, .. } => format!("needs-auth: {reason}"),
            DestinationState::Failed { reason } => format!("failed: {reason}"),
        }
    }

    /// The state's one-word name, as the record's JSON has it.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            DestinationState::Pending => "pending",
            DestinationState::Uploading { .. } => "uploading",
            DestinationState::Processing { .. } => "processing",
            DestinationState::Done { .. } => "done",
            DestinationState::Deferred { .. } => "deferred",
            DestinationState::NeedsAuth { .. } => "needs-auth",
            DestinationState::Failed { .. } => "failed",
        }
    }

    /// Asked again by a person (`vidpipe publish ID --to …`, after `vidpipe auth`): a
    /// destination needing credentials goes on from where it was, a failed one starts
    /// again, a deferred one is due now. Done ones stay done. Whether it changed.
    pub fn renew(&mut self) -> bool {
        let next = match &self.state {
            DestinationState::NeedsAuth { resume, .. } => resume
                .as_deref()
                .cloned()
                .unwrap_or(DestinationState::Pending),
            DestinationState::Failed { .. } => DestinationState::Pending,
            DestinationState::Deferred { resume, .. } => (**resume).clone(),
            _ => return false,
        };
        self.state = next;
        self.attempts = 0;
        true
    }

    /// The step at `now_unix_s`.
    pub fn step(&self, now_unix_s: i64) -> Step {
        step_of(&self.state, now_unix_s)
    }

    /// Whether a step is due at `now_unix_s`: not settled, and not waiting for a
    /// later time.
    pub fn is_due(&self, now_unix_s: i64) -> bool {
        !matches!(self.step(now_unix_s), Step::Nothing | Step::Wait { .. })
    }

    /// Whether nothing more will happen without a person: done, failed or needing
    /// credentials.
    pub fn settled(&self) -> bool {
        matches!(
            self.state,
            DestinationState::Done { .. }
                | DestinationState::Failed { .. }
                | DestinationState::NeedsAuth { .. }
        )
    }

    /// The platform confirmed progress (an offset, the end of the upload, the video
    /// ready): the new state, and the refusal count starts again.
    pub fn advance(&mut self, state: DestinationState) {
        self.state = state;
        self.attempts = 0;
    }

    /// A refusal's verdict: retries and deferrals wait where the destination was,
    /// the rest settle it.
    pub fn refused(&mut self, verdict: Verdict) {
        self.attempts += 1;
        let resume = match std::mem::replace(&mut self.state, DestinationState::Pending) {
            DestinationState::Deferred { resume, .. } => *resume,
            other => other,
        };
        self.state = match verdict {
            Verdict::Retry { at_unix_s, reason } => DestinationState::Deferred {
                until_unix_s: at_unix_s,
                reason,
                resume: Box::new(resume),
            },
            Verdict::Defer {
                until_unix_s,
                reason,
            } => DestinationState::Deferred {
                until_unix_s,
                reason,
                resume: Box::new(resume),
            },
            Verdict::NeedsAuth { reason } => DestinationState::NeedsAuth {
                reason,
                resume: Some(Box::new(resume)),
            },
            Verdict::Permanent { reason } => DestinationState::Failed { reason },
        };
    }

    /// The upload session is gone (expired): start again from nothing, keeping the
    /// count of refusals in a row.
    pub fn session_expired(&mut self) {
        self.state = DestinationState::Pending;
    }
}

fn step_of(state: &DestinationState, now_unix_s: i64) -> Step {
    match state {
        DestinationState::Pending => Step::Start,
        DestinationState::Uploading { session, offset } => Step::Resume {
            session: session.clone(),
            recorded_offset: *offset,
        },
        DestinationState::Processing { platform_id } => Step::Poll {
            platform_id: platform_id.clone(),
        },
        DestinationState::Deferred {
            until_unix_s,
            resume,
            ..
        } => {
            if now_unix_s < *until_unix_s {
                Step::Wait {
                    until_unix_s: *until_unix_s,
                }
            } else {
                step_of(resume, now_unix_s)
            }
        }
        DestinationState::Done { .. }
        | DestinationState::NeedsAuth { .. }
        | DestinationState::Failed { .. } => Step::Nothing,
    }
}

/// Whether a video's publishing is over: every destination settled (the notice then
/// says which are done and which not). One destination failing never holds back the
/// others.
pub fn all_settled(destinations: &[Destination]) -> bool {
    destinations.iter().all(Destination::settled)
}

/// The earliest time, at `now_unix_s`, a destination not settled comes due: a
/// deferred one at its time, any other (pending, paused, held by another run) now.
/// `None` when every one has settled. For the scheduled pass (`vidpipe publish
/// --due`, the reconciler) to come back then.
pub fn next_due(destinations: &[Destination], now_unix_s: i64) -> Option<i64> {
    destinations
        .iter()
        .filter(|d| !d.settled())
        .map(|d| match d.state {
            DestinationState::Deferred { until_unix_s, .. } => until_unix_s,
            _ => now_unix_s,
        })
        .min()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::destinations::parse_destinations;

    fn three() -> Vec<Destination> {
        parse_destinations(&json!([{"to": "youtube"}, {"to": "vimeo"}, {"to": "facebook"}]))
            .unwrap()
            .into_iter()
            .map(Destination::new)
            .collect()
    }

    #[test]
    fn an_upload_resumes_from_what_was_recorded_and_a_deferral_waits_where_it_was() {
        let mut d = three().remove(0);
        assert_eq!(d.step(0), Step::Start);
        // The session is recorded before bytes move; a crash after a confirmed chunk
        // resumes there.
        d.advance(DestinationState::Uploading {
            session: "https://upload/s1".into(),
            offset: 0,
        });
        d.advance(DestinationState::Uploading {
            session: "https://upload/s1".into(),
            offset: 262_144,
        });
        assert_eq!(
            d.step(10),
            Step::Resume {
                session: "https://upload/s1".into(),
                recorded_offset: 262_144
            }
        );
        // A quota: wait until it comes back, then resume the same session.
        d.refused(Verdict::Defer {
            until_unix_s: 500,
            reason: "quota".into(),
        });
        assert_eq!(d.step(499), Step::Wait { until_unix_s: 500 });
        assert!(matches!(
            d.step(500),
            Step::Resume {
                recorded_offset: 262_144,
                ..
            }
        ));
        // A second refusal while deferred keeps the place, and counts.
        d.refused(Verdict::Retry {
            at_unix_s: 800,
            reason: "429".into(),
        });
        assert_eq!(d.attempts, 2);
        assert!(matches!(
            d.step(800),
            Step::Resume {
                recorded_offset: 262_144,
                ..
            }
        ));
        // The session expired: start again.
        d.session_expired();
        assert_eq!(d.step(900), Step::Start);
        // Progress resets the count.
        d.advance(DestinationState::Processing {
            platform_id: "v1".into(),
        });
        assert_eq!(d.attempts, 0);
        assert_eq!(
            d.step(900),
            Step::Poll {
                platform_id: "v1".into()
            }
        );
        // The record keeps it as JSON and reads it back.
        let text = serde_json::to_string(&d).unwrap();
        assert!(text.contains("\"state\":\"processing\""), "{text}");
        assert_eq!(serde_json::from_str::<Destination>(&text).unwrap(), d);
    }

    #[test]
    fn one_destination_failing_does_not_hold_back_the_others() {
        let mut ds = three();
        ds[0].advance(DestinationState::Done {
            platform_id: "yt1".into(),
            url: "https://youtu.be/yt1".into(),
        });
        ds[1].refused(Verdict::Permanent {
            reason: "Vimeo: the video is too long".into(),
        });
        ds[2].refused(Verdict::Retry {
            at_unix_s: 1_000,
            reason: "code 4".into(),
        });
        assert!(!all_settled(&ds), "Facebook is still to go");
        assert_eq!(next_due(&ds, 500), Some(1_000));
        assert_eq!(ds[1].step(5_000), Step::Nothing);
        assert_eq!(ds[2].step(1_000), Step::Start);
        ds[2].refused(Verdict::NeedsAuth {
            reason: "code 190".into(),
        });
        assert!(
            all_settled(&ds),
            "done, failed and needs-auth are all settled"
        );
        assert_eq!(next_due(&ds, 500), None);
    }
}

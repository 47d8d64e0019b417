//! What to do with a platform's answer that was not a success. Every answer gets one
//! of four verdicts: try again after a wait (the server's own hint where it gives one),
//! defer until a known time (a daily quota), ask a person for new credentials, or give
//! up with the platform's message. The rules, by platform:
//!
//! - **YouTube** (Data API v3 errors, `{"error": {"code", "message", "errors":
//!   [{"reason"}]}}`): `quotaExceeded` and `dailyLimitExceeded` defer to the next
//!   midnight Pacific time, when the daily quota resets; `uploadLimitExceeded` (the
//!   channel's daily upload limit) defers a day; `rateLimitExceeded`,
//!   `userRateLimitExceeded`, `backendError`, 429 and 5xx retry; 401 and Google's
//!   token endpoint's `invalid_grant` need new credentials.
//! - **Vimeo** (`{"error", "developer_message", "error_code"}`): 429 retries at
//!   `X-RateLimit-Reset` (an RFC 3339 time, Vimeo API "Rate limiting"); 5xx retries;
//!   401 needs credentials.
//! - **Facebook** Graph API (`{"error": {"message", "type", "code", "error_subcode"}}`):
//!   codes 4, 17, 32, 613 and 80001 (rate limits) and 368 (temporarily blocked) retry
//!   after the `estimated_time_to_regain_access` (minutes) of
//!   `X-Business-Use-Case-Usage` where it is given; codes 1 and 2 (unknown, service)
//!   retry; code 190 (an invalid or expired token) needs credentials (Graph API,
//!   "Handling errors").
//! - Everywhere: `Retry-After` (seconds or an HTTP date) is honoured; anything else is
//!   permanent, with the platform's message.

use serde_json::Value;

use super::clock::{next_pacific_midnight, parse_http_date, parse_rfc3339};
use super::Platform;

/// Wait before the first retry when the server gives no hint, seconds; doubled each
/// attempt up to [`MAX_BACKOFF_S`].
pub const FIRST_BACKOFF_S: i64 = 30;
/// The longest wait vidpipe chooses itself (a server's hint may be longer), seconds.
pub const MAX_BACKOFF_S: i64 = 3600;

/// When to try again on the `attempt`-th try (1 for the first) without a hint from
/// the server: [`FIRST_BACKOFF_S`] doubled each attempt, at most [`MAX_BACKOFF_S`].
pub fn backoff(now_unix_s: i64, attempt: u32) -> i64 {
    let doubled = FIRST_BACKOFF_S.saturating_mul(1 << attempt.clamp(1, 20).saturating_sub(1));
    now_unix_s + doubled.min(MAX_BACKOFF_S)
}

/// A platform's answer, as much of it as the verdict needs.
#[derive(Debug, Clone, Default)]
pub struct Answer<'a> {
    pub status: u16,
    /// Header names in any case.
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: &'a str,
}

impl Answer<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Try the same request again at `at_unix_s`.
    Retry { at_unix_s: i64, reason: String },
    /// Leave the destination until `until_unix_s` (a quota comes back then); a
    /// scheduled pass picks it up again.
    Defer { until_unix_s: i64, reason: String },
    /// The credentials are refused: a person must run `vidpipe auth` (or renew the
    /// secret); retrying cannot help.
    NeedsAuth { reason: String },
    /// Not worth trying again.
    Permanent { reason: String },
}

/// The verdict on `answer` from `platform`, at `now_unix_s`, on the `attempt`-th try
/// (1 for the first).
pub fn classify(platform: Platform, answer: &Answer<'_>, now_unix_s: i64, attempt: u32) -> Verdict {
    let body: Value = serde_json::from_str(answer.body).unwrap_or(Value::Null);
    let backoff = || backoff(now_unix_s, attempt);
    let hinted = retry_after(answer, now_unix_s);
    let retry = |reason: String, hint: Option<i64>| Verdict::Retry {
        at_unix_s: hint.or(hinted).unwrap_or_else(backoff).max(now_unix_s),
        reason,
    };
    match platform {
        Platform::YouTube => youtube(answer, &body, now_unix_s, retry),
        Platform::Vimeo => vimeo(answer, &body, retry),
        Platform::Facebook => facebook(answer, &body, now_unix_s, retry),
    }
}

/// `Retry-After` as a time: seconds from now, or an HTTP date.
fn retry_after(answer: &Answer<'_>, now_unix_s: i64) -> Option<i64> {
    let value = answer.header("retry-after")?;
    value
        .parse::<i64>()
        .ok()
        .map(|s| now_unix_s + s.max(0))
        .or_else(|| parse_http_date(value))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn youtube(
    answer: &Answer<'_>,
    body: &Value,
    now_unix_s: i64,
    retry: impl Fn(String, Option<i64>) -> Verdict,
) -> Verdict {
    // Google's token endpoint answers {"error": "invalid_grant", "error_description"}.
    if body["error"].as_str() == Some("invalid_grant") {
        let why = text(&body["error_description"]).unwrap_or_else(|| "invalid_grant".into());
        return Verdict::NeedsAuth {
            reason: format!("YouTube: the refresh token is refused ({why})"),
        };
    }
    let error = &body["error"];
    let message = text(&error["message"]).unwrap_or_else(|| format!("HTTP {}", answer.status));
    let reasons: Vec<&str> = error["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["reason"].as_str()).collect())
        .unwrap_or_default();
    let has = |r: &str| reasons.contains(&r);
    if has("quotaExceeded") || has("dailyLimitExceeded") {
        return Verdict::Defer {
            until_unix_s: next_pacific_midnight(now_unix_s),
            reason: format!(
                "YouTube's daily quota is spent ({message}); it resets at midnight Pacific time"
            ),
        };
    }
    if has("uploadLimitExceeded") {
        return Verdict::Defer {
            until_unix_s: now_unix_s + 86_400,
            reason: format!("the channel reached its daily upload limit ({message})"),
        };
    }
    if answer.status == 401 || has("authError") {
        return Verdict::NeedsAuth {
            reason: format!("YouTube refused the credentials: {message}"),
        };
    }
    let transient = ["rateLimitExceeded", "userRateLimitExceeded", "backendError"];
    if answer.status == 429 || answer.status >= 500 || transient.iter().any(|r| has(r)) {
        return retry(format!("YouTube: {message}"), None);
    }
    Verdict::Permanent {
        reason: format!("YouTube: {message}"),
    }
}

fn vimeo(
    answer: &Answer<'_>,
    body: &Value,
    retry: impl Fn(String, Option<i64>) -> Verdict,
) -> Verdict {
    let message = text(&body["developer_message"])
        .or_else(|| text(&body["error"]))
        .unwrap_or_else(|| format!("HTTP {}", answer.status));
    match answer.status {
        401 => Verdict::NeedsAuth {
            reason: format!("Vimeo refused the token: {message}"),
        },
        429 => {
            let reset = answer.header("x-ratelimit-reset").and_then(parse_rfc3339);
            retry(format!("Vimeo's rate limit: {message}"), reset)
        }
        s if s >= 500 => retry(format!("Vimeo: {message}"), None),
        _ => Verdict::Permanent {
            reason: format!("Vimeo: {message}"),
        },
    }
}

/// The longest `estimated_time_to_regain_access` (minutes) in a
/// `X-Business-Use-Case-Usage` header (`{"<business id>": [{"type", "call_count", …,
/// "estimated_time_to_regain_access": 5}]}`), as a time.
fn facebook_regain(answer: &Answer<'_>, now_unix_s: i64) -> Option<i64> {
    let usage: Value = serde_json::from_str(answer.header("x-business-use-case-usage")?).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|u| u["estimated_time_to_regain_access"].as_i64())
        .max()?;
    (minutes > 0).then_some(now_unix_s + minutes * 60)
}

fn facebook(
    answer: &Answer<'_>,
    body: &Value,
    now_unix_s: i64,
    retry: impl Fn(String, Option<i64>) -> Verdict,
) -> Verdict {
    let error = &body["error"];
    let message = text(&error["message"]).unwrap_or_else(|| format!("HTTP {}", answer.status));
    let code = error["code"].as_i64();
    let described = match code {
        Some(c) => format!("Facebook (code {c}): {message}"),
        None => format!("Facebook: {message}"),
    };
    match code {
        Some(190) => Verdict::NeedsAuth { reason: described },
        Some(4 | 17 | 32 | 613 | 80001 | 368) => {
            retry(described, facebook_regain(answer, now_unix_s))
        }
        Some(1 | 2) => retry(described, None),
        None if answer.status == 401 => Verdict::NeedsAuth { reason: described },
        None if answer.status == 429 || answer.status >= 500 => retry(described, None),
        _ => Verdict::Permanent { reason: described },
    }
}

#[cfg(test)]
mod tests;

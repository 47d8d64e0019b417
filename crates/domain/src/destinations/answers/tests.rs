//! The verdicts on the platforms' documented error answers
//! (`tests/fixtures/platforms/`).

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../../../tests/fixtures/platforms/", $name))
    };
}

/// 2026-12-03T02:30:00Z
const NOW: i64 = 1_796_265_000;

fn answer<'a>(status: u16, body: &'a str, headers: &[(&'a str, &'a str)]) -> Answer<'a> {
    Answer {
        status,
        headers: headers.to_vec(),
        body,
    }
}

fn verdict(platform: Platform, status: u16, body: &str, headers: &[(&str, &str)]) -> Verdict {
    classify(platform, &answer(status, body, headers), NOW, 1)
}

#[test]
fn youtube_quota_defers_to_midnight_pacific_and_the_upload_limit_a_day() {
    assert_eq!(
        super::super::clock::parse_rfc3339("2026-12-03T02:30:00Z"),
        Some(NOW)
    );
    match verdict(
        Platform::YouTube,
        403,
        fixture!("youtube-quota-exceeded.json"),
        &[],
    ) {
        Verdict::Defer {
            until_unix_s,
            reason,
        } => {
            // 02:30 UTC on 3 December is 18:30 PST on the 2nd: midnight PST is 08:00 UTC.
            assert_eq!(until_unix_s, NOW + 5 * 3600 + 30 * 60);
            assert!(
                reason.contains("quota") && reason.contains("Pacific"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let limit = verdict(
        Platform::YouTube,
        400,
        fixture!("youtube-upload-limit-exceeded.json"),
        &[],
    );
    assert!(
        matches!(limit, Verdict::Defer { until_unix_s, .. } if until_unix_s == NOW + 86_400),
        "{limit:?}"
    );
}

#[test]
fn refused_credentials_need_a_person_on_every_platform() {
    let cases = [
        (
            Platform::YouTube,
            401,
            fixture!("youtube-invalid-credentials.json"),
        ),
        (
            Platform::YouTube,
            400,
            fixture!("google-token-invalid-grant.json"),
        ),
        (Platform::Vimeo, 401, fixture!("vimeo-unauthenticated.json")),
        (
            Platform::Facebook,
            400,
            fixture!("facebook-token-expired.json"),
        ),
    ];
    for (platform, status, body) in cases {
        let v = verdict(platform, status, body, &[]);
        assert!(
            matches!(v, Verdict::NeedsAuth { .. }),
            "{platform:?}: {v:?}"
        );
    }
    let v = verdict(
        Platform::YouTube,
        400,
        fixture!("google-token-invalid-grant.json"),
        &[],
    );
    let Verdict::NeedsAuth { reason } = v else {
        panic!("{v:?}")
    };
    assert!(reason.contains("expired or revoked"), "{reason}");
}

#[test]
fn rate_limits_wait_as_long_as_the_server_says() {
    // Vimeo: until X-RateLimit-Reset.
    let v = verdict(
        Platform::Vimeo,
        429,
        fixture!("vimeo-rate-limited.json"),
        &[("X-RateLimit-Reset", "2026-12-03T02:45:00+00:00")],
    );
    assert!(
        matches!(v, Verdict::Retry { at_unix_s, .. } if at_unix_s == NOW + 900),
        "{v:?}"
    );
    // Facebook: the longest estimated_time_to_regain_access, in minutes.
    let usage = r#"{"1234": [{"type": "pages", "call_count": 100, "total_cputime": 30,
        "total_time": 40, "estimated_time_to_regain_access": 12},
        {"type": "pages", "call_count": 98, "estimated_time_to_regain_access": 3}]}"#;
    let v = verdict(
        Platform::Facebook,
        400,
        fixture!("facebook-rate-limited.json"),
        &[("x-business-use-case-usage", usage)],
    );
    assert!(
        matches!(v, Verdict::Retry { at_unix_s, .. } if at_unix_s == NOW + 12 * 60),
        "{v:?}"
    );
    // YouTube: Retry-After in seconds, or as an HTTP date.
    let v = verdict(Platform::YouTube, 429, "", &[("Retry-After", "120")]);
    assert!(
        matches!(v, Verdict::Retry { at_unix_s, .. } if at_unix_s == NOW + 120),
        "{v:?}"
    );
    let v = verdict(
        Platform::YouTube,
        503,
        "",
        &[("retry-after", "Thu, 03 Dec 2026 03:00:00 GMT")],
    );
    assert!(
        matches!(v, Verdict::Retry { at_unix_s, .. } if at_unix_s == NOW + 1800),
        "{v:?}"
    );
}

#[test]
fn without_a_hint_the_wait_doubles_up_to_an_hour() {
    let body = fixture!("youtube-rate-limit-exceeded.json");
    let at = |attempt| match classify(Platform::YouTube, &answer(403, body, &[]), NOW, attempt) {
        Verdict::Retry { at_unix_s, .. } => at_unix_s - NOW,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        [at(1), at(2), at(3), at(10), at(40)],
        [30, 60, 120, 3600, 3600]
    );
    // A Facebook rate limit without the usage header backs off the same way.
    let fb = classify(
        Platform::Facebook,
        &answer(400, fixture!("facebook-rate-limited.json"), &[]),
        NOW,
        2,
    );
    assert!(
        matches!(fb, Verdict::Retry { at_unix_s, .. } if at_unix_s == NOW + 60),
        "{fb:?}"
    );
}

#[test]
fn everything_else_is_permanent_with_the_platform_s_message() {
    let cases = [
        (
            Platform::YouTube,
            400,
            fixture!("youtube-invalid-title.json"),
            "invalid or empty video title",
        ),
        (
            Platform::Vimeo,
            404,
            fixture!("vimeo-not-found.json"),
            "couldn't be found",
        ),
        (
            Platform::Facebook,
            400,
            fixture!("facebook-invalid-parameter.json"),
            "code 100",
        ),
    ];
    for (platform, status, body, says) in cases {
        match verdict(platform, status, body, &[]) {
            Verdict::Permanent { reason } => assert!(reason.contains(says), "{reason}"),
            other => panic!("{platform:?}: {other:?}"),
        }
    }
    // A body that is not JSON still gets a reason.
    let v = verdict(Platform::Vimeo, 400, "<html>bad gateway</html>", &[]);
    assert_eq!(
        v,
        Verdict::Permanent {
            reason: "Vimeo: HTTP 400".into()
        }
    );
}

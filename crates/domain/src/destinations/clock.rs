//! The few calendar facts the platforms' answers need, in Unix seconds (UTC): the
//! next midnight in Pacific time (YouTube's daily quota reset), and the two date forms
//! their headers use (RFC 3339 in Vimeo's `X-RateLimit-Reset`, the HTTP date of
//! `Retry-After`).

const DAY_S: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms", `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (the inverse of [`days_from_civil`]): (year, month, day).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day of the week of a day number, 0 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// The day number of the `n`-th Sunday (1-based) of a month.
fn nth_sunday(year: i64, month: u32, n: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    first + (7 - weekday(first)) % 7 + 7 * (n - 1)
}

/// Pacific time's offset from UTC at `unix_s`, in seconds: −7 h (PDT) from the second
/// Sunday of March at 02:00 PST to the first Sunday of November at 02:00 PDT, else
/// −8 h (PST) (US Energy Policy Act of 2005, §110, the rule since 2007).
pub fn pacific_offset_s(unix_s: i64) -> i64 {
    let (year, _, _) = civil_from_days(unix_s.div_euclid(DAY_S));
    let starts = nth_sunday(year, 3, 2) * DAY_S + 2 * 3600 + 8 * 3600;
    let ends = nth_sunday(year, 11, 1) * DAY_S + 2 * 3600 + 7 * 3600;
    if (starts..ends).contains(&unix_s) {
        -7 * 3600
    } else {
        -8 * 3600
    }
}

/// The first midnight in Pacific time after `unix_s`: when YouTube's daily quota comes
/// back ("Daily quotas reset at midnight Pacific Time", YouTube Data API, "Quota and
/// compliance audits").
pub fn next_pacific_midnight(unix_s: i64) -> i64 {
    let local = unix_s + pacific_offset_s(unix_s);
    let midnight_local = (local.div_euclid(DAY_S) + 1) * DAY_S;
    // Midnight is never inside a change of offset (changes are at 02:00), so the
    // offset an hour before midnight is the offset at midnight.
    let guess = midnight_local - pacific_offset_s(unix_s);
    midnight_local - pacific_offset_s(guess - 3600)
}

fn number(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn time_of_day(hms: &str) -> Option<i64> {
    let mut parts = hms.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let s = s.split('.').next()?;
    let (h, m, s) = (number(h)?, number(m)?, number(s)?);
    (parts.next().is_none() && h < 24 && m < 60 && s < 61).then_some(h * 3600 + m * 60 + s)
}

/// An RFC 3339 date-time (`2026-12-03T10:00:00+00:00`, `…Z`, fractions ignored) as
/// Unix seconds; `None` when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, rest) = text.trim().split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let (y, mo, da) = (number(d.next()?)?, number(d.next()?)?, number(d.next()?)?);
    let (time, offset_s) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (t, zone) = rest.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (zh, zm) = zone[1..].split_once(':')?;
        (t, sign * (number(zh)? * 3600 + number(zm)? * 60))
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) {
        return None;
    }
    let days = days_from_civil(y, mo as u32, da as u32);
    Some(days * DAY_S + time_of_day(time)? - offset_s)
}

/// An HTTP date in its preferred form (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110
/// §5.6.7) as Unix seconds; `None` otherwise.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let _weekday = parts.next()?;
    let day = number(parts.next()?)?;
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = parts.next()?;
    let month = months.iter().position(|m| *m == month)? as u32 + 1;
    let year = number(parts.next()?)?;
    let time = time_of_day(parts.next()?)?;
    (parts.next()? == "GMT" && (1..=31).contains(&day))
        .then(|| days_from_civil(year, month, day as u32) * DAY_S + time)
}

/// `2026-12-03T07:00:00Z`
pub fn format_utc(unix_s: i64) -> String {
    let (y, m, d) = civil_from_days(unix_s.div_euclid(86_400));
    let t = unix_s.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip_and_know_the_epoch() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in [-800_000, -1, 0, 59, 60, 11_016, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn pacific_midnight_follows_daylight_saving() {
        let at = |s: &str| parse_rfc3339(s).unwrap();
        // Winter (PST, UTC−8): midnight Pacific is 08:00 UTC.
        assert_eq!(
            next_pacific_midnight(at("2026-12-03T02:30:00Z")),
            at("2026-12-03T08:00:00Z")
        );
        assert_eq!(
            next_pacific_midnight(at("2026-12-03T08:00:00Z")),
            at("2026-12-04T08:00:00Z")
        );
        // Summer (PDT, UTC−7): 07:00 UTC.
        assert_eq!(
            next_pacific_midnight(at("2026-07-04T20:00:00Z")),
            at("2026-07-05T07:00:00Z")
        );
        // The days the clocks change in 2026: 8 March and 1 November.
        assert_eq!(
            next_pacific_midnight(at("2026-03-08T12:00:00Z")),
            at("2026-03-09T07:00:00Z")
        );
        assert_eq!(
            next_pacific_midnight(at("2026-03-07T12:00:00Z")),
            at("2026-03-08T08:00:00Z")
        );
        assert_eq!(
            next_pacific_midnight(at("2026-11-01T12:00:00Z")),
            at("2026-11-02T08:00:00Z")
        );
        assert_eq!(
            next_pacific_midnight(at("2026-10-31T12:00:00Z")),
            at("2026-11-01T07:00:00Z")
        );
    }

    #[test]
    fn header_dates_parse_and_garbage_does_not() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339("2014-08-14T18:54:30.5-07:00"),
            Some(1_408_067_670)
        );
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        for bad in [
            "",
            "soon",
            "2026-13-01T00:00:00Z",
            "2026-01-01T25:00:00Z",
            "2026-01-01",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(parse_http_date("120"), None);
    }
}

use super::*;

fn t(text: &str) -> FrameTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn times_keep_the_time_of_day_in_every_common_form() {
    for (name, want) in [
        ("pw_20240226_1900.jpg", "2024-02-26 19:00"),
        ("DroughtRisk_Weekly_20240226.png", "2024-02-26 00:00"),
        ("linear_rgb_cyl_20240226_1930.png", "2024-02-26 19:30"),
        ("fire_202402261945_4096.png", "2024-02-26 19:45"),
        ("sst_2024-02-26T19_05_00Z.png", "2024-02-26 19:05"),
        ("dir/sub/20240226.jpg", "2024-02-26 00:00"),
    ] {
        assert_eq!(time_in_name(name, None), Some(t(want)), "{name}");
    }
    for name in [
        "notes.txt",
        "frame_123456789012345.png",
        "pw_20241345.jpg",
        "img_2024.png",
    ] {
        assert_eq!(time_in_name(name, None), None, "{name}");
    }
}

#[test]
fn a_pattern_names_any_other_form() {
    assert_eq!(
        time_in_name("goes16_2024057_19.png", Some("%Y%j_%H")),
        Some(t("2024-02-26 19:00"))
    );
    assert_eq!(
        time_in_name("goes16_2024.057.png", Some("%Y.%j")),
        Some(t("2024-02-26 00:00"))
    );
    assert_eq!(
        time_in_name("run-26Feb2024-1900.png", Some("%d%b%Y-%H%M")),
        Some(t("2024-02-26 19:00"))
    );
}

#[test]
fn periods_in_iso_8601_and_the_legacy_short_forms() {
    let end = t("2024-03-31 12:00");
    assert_eq!(
        Period::parse("P1Y").unwrap().start(end),
        t("2023-03-31 12:00")
    );
    assert_eq!(
        Period::parse("p1m").unwrap().start(end),
        t("2024-02-29 12:00"),
        "a calendar month, clamped"
    );
    assert_eq!(
        Period::parse("P7D").unwrap().start(end),
        t("2024-03-24 12:00")
    );
    assert_eq!(
        Period::parse("PT6H").unwrap().start(end),
        t("2024-03-31 06:00")
    );
    assert_eq!(
        Period::parse("P1DT12H").unwrap().start(end),
        t("2024-03-30 00:00")
    );
    assert_eq!(
        Period::parse("PT30M").unwrap().start(end),
        t("2024-03-31 11:30")
    );
    assert_eq!(Period::parse("1Y").unwrap(), Period::parse("P1Y").unwrap());
    assert_eq!(Period::parse("1M").unwrap().months, 1);
    assert_eq!(Period::parse("1W").unwrap().seconds, 7 * 86_400);
    assert_eq!(Period::parse("1D").unwrap().seconds, 86_400);
    for bad in ["", "P", "P0D", "P1Yjunk", "PXD", "P1", "1H", "year", "PT1Y"] {
        let err = Period::parse(bad).unwrap_err();
        assert!(
            matches!(err, TimelapseError::BadPeriod { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn frames_are_ordered_by_time_not_name_and_duplicates_and_gaps_are_reported() {
    // Two prefixes: by name, "b_" frames would all come after "a_" ones.
    let list = names(&[
        "b_20240101_0000.png",
        "a_20240101_0600.png",
        "b_20240101_1200.png",
        "a_20240101_1200.png", // the same time as b_…1200: a duplicate
        // 18:00 and 00:00 missing
        "a_20240102_0600.png",
        "b_20240102_1200.png",
        "readme.txt",
        "a_20231201_0000.png", // outside the period
    ]);
    let s = select(&list, None, Period::parse("P1D").unwrap(), None, None).unwrap();
    let order: Vec<&str> = s.frames.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "a_20240101_1200.png",
            "a_20240102_0600.png",
            "b_20240102_1200.png"
        ]
    );
    let s = select(&list, None, Period::parse("P2D").unwrap(), None, None).unwrap();
    let order: Vec<&str> = s.frames.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "b_20240101_0000.png",
            "a_20240101_0600.png",
            "a_20240101_1200.png",
            "a_20240102_0600.png",
            "b_20240102_1200.png"
        ]
    );
    assert_eq!(
        s.duplicates,
        [(
            "a_20240101_1200.png".to_string(),
            "b_20240101_1200.png".to_string()
        )]
    );
    assert_eq!(s.untimed, ["readme.txt"]);
    assert_eq!(s.cadence_s, Some(6 * 3600));
    assert_eq!(s.gaps, [t("2024-01-01 18:00"), t("2024-01-02 00:00")]);
    assert_eq!(s.start, t("2023-12-31 12:00"));
}

#[test]
fn gaps_are_filled_as_asked() {
    let list = names(&[
        "x_20240101_0000.png",
        "x_20240101_0100.png",
        "x_20240101_0400.png",
    ]);
    let s = select(&list, None, Period::parse("P1D").unwrap(), None, Some(3600)).unwrap();
    assert_eq!(s.gaps, [t("2024-01-01 02:00"), t("2024-01-01 03:00")]);
    assert_eq!(
        s.steps(Fill::None),
        [Step::Frame(0), Step::Frame(1), Step::Frame(2)]
    );
    assert_eq!(
        s.steps(Fill::Hold),
        [
            Step::Frame(0),
            Step::Frame(1),
            Step::Held(1),
            Step::Held(1),
            Step::Frame(2)
        ]
    );
    assert_eq!(s.steps(Fill::Blank)[2], Step::Blank(t("2024-01-01 02:00")));
    assert_eq!(
        s.steps(Fill::Basemap)[3],
        Step::Basemap(t("2024-01-01 03:00"))
    );
}

#[test]
fn a_period_without_frames_says_what_was_looked_for() {
    let list = names(&["x_20240101.png"]);
    let end = t("2025-01-01 00:00");
    let err = select(&list, None, Period::parse("P1M").unwrap(), Some(end), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no frames in the period 2024-12-01 00:00:00 to 2025-01-01 00:00:00 (1 frames found in all)"
    );
    assert!(matches!(
        select(&[], None, Period::parse("P1M").unwrap(), None, None),
        Err(TimelapseError::NoFrames { .. })
    ));
}

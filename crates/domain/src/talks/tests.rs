use super::*;

fn table(rows: &[&[&str]]) -> SheetTable {
    SheetTable {
        name: "Talks".into(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect(),
    }
}

fn programme() -> SheetTable {
    table(&[
        &["  Talk ", "Speaker(s)", "In", "OUT", "Abstract", "Tags"],
        &[
            "Right metrics and wrong metrics: Is there such a thing4?",
            "Ada Lovelace and Grace Hopper",
            "00:00:05",
            "95",
            "Which numbers matter.",
            "metrics; analytics",
        ],
        &[
            "Marketing in 2018: What to expect?",
            "Zoë Çelik",
            "",
            "",
            "",
            "",
        ],
        &["Café économie", "Bob", "", "", "", ""],
    ])
}

#[test]
fn headers_are_found_by_synonym_whatever_their_case_and_spacing() {
    let t = table(&[&[
        "TALK", "Speakers", "in", " Out ", "abstract", "URL", "E-mail",
    ]]);
    let c = Columns::find(&t).unwrap();
    assert_eq!(c.get(Column::Title), Some(0));
    assert_eq!(c.get(Column::Speakers), Some(1));
    assert_eq!(c.get(Column::Start), Some(2));
    assert_eq!(c.get(Column::End), Some(3));
    assert_eq!(c.get(Column::Description), Some(4));
    assert_eq!(c.get(Column::Link), Some(5));
    assert_eq!(c.get(Column::Email), Some(6));
    assert_eq!(c.get(Column::Tags), None);
    assert_eq!(c.width, 7);
}

#[test]
fn a_sheet_without_a_title_column_is_an_error_naming_its_headers() {
    let t = table(&[&["Speaker", "Room"], &["Ada", "B1"]]);
    let err = find_row(&t, &["anything"]).unwrap_err();
    assert!(matches!(err, SheetError::NoTitleColumn { .. }), "{err}");
    assert!(err.to_string().contains("Room"), "{err}");
}

#[test]
fn the_s3_event_key_of_a_talk_finds_its_row() {
    let row = find_row(
        &programme(),
        &["uploads/Right+metrics+and+wrong+metrics%3A+Is+there+such+a+thing4%3F.mp4"],
    )
    .unwrap();
    assert_eq!(row.row_number, 2);
    assert_eq!(row.speakers, vec!["Ada Lovelace", "Grace Hopper"]);
    assert_eq!(row.start.as_deref(), Some("00:00:05"));
    assert_eq!(row.end.as_deref(), Some("95"));
    assert_eq!(row.tags, vec!["metrics", "analytics"]);
}

#[test]
fn accents_case_punctuation_and_small_typos_still_match() {
    let t = programme();
    assert_eq!(find_row(&t, &["cafe ECONOMIE.mov"]).unwrap().row_number, 4);
    assert_eq!(
        find_row(&t, &["Marketing in 2018 - what to expect.mp4"])
            .unwrap()
            .row_number,
        3
    );
    // One letter dropped from the title.
    assert_eq!(
        find_row(&t, &["Marketing in 2018 What to expct"])
            .unwrap()
            .row_number,
        3
    );
    // The title, given first, wins over a file name that matches nothing.
    assert_eq!(
        find_row(&t, &["Café économie", "IMG_0042.mp4"])
            .unwrap()
            .row_number,
        4
    );
}

#[test]
fn a_missing_row_names_the_closest_rows() {
    let err = find_row(&programme(), &["Marketing in 2019 plans.mp4"]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SheetError::NoRow { .. }), "{text}");
    assert!(
        text.contains("row 3 \"Marketing in 2018: What to expect?\""),
        "{text}"
    );
}

#[test]
fn two_rows_with_the_same_title_are_ambiguous() {
    let mut t = programme();
    t.rows.push(vec!["Café Économie!".into(), "Carol".into()]);
    let err = find_row(&t, &["cafe economie.mp4"]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SheetError::Ambiguous { .. }), "{text}");
    assert!(text.contains("row 4") && text.contains("row 5"), "{text}");
}

#[test]
fn near_ties_are_not_guessed() {
    let t = table(&[&["Title"], &["Keynote day 1"], &["Keynote day 2"]]);
    assert!(matches!(
        find_row(&t, &["Keynote day 3"]).unwrap_err(),
        SheetError::NoRow { .. }
    ));
}

#[test]
fn speaker_cells_split_on_commas_semicolons_and_and() {
    assert_eq!(
        split_names("Ada Lovelace, Grace Hopper; Alan Turing and Zoë Çelik & Bob"),
        vec![
            "Ada Lovelace",
            "Grace Hopper",
            "Alan Turing",
            "Zoë Çelik",
            "Bob"
        ]
    );
    assert_eq!(split_names("  "), Vec::<String>::new());
}

#[test]
fn the_row_fills_what_the_sidecar_leaves_out_and_notes_who_is_not_emailed() {
    let row = find_row(
        &programme(),
        &["right metrics and wrong metrics is there such a thing4"],
    )
    .unwrap();
    let directory = SpeakerDirectory::from_table(&table(&[
        &["Name", "Email"],
        &["ada lovelace", "ada@example.org"],
    ]))
    .unwrap();
    let sidecar = Sidecar {
        description: Some("From the sidecar.".into()),
        ..Sidecar::default()
    };
    let (s, notes) = row.fill(Some(sidecar), &directory);
    assert_eq!(s.title.as_deref(), Some(row.title.as_str()));
    assert_eq!(s.description.as_deref(), Some("From the sidecar."));
    assert_eq!(s.clip_s().unwrap(), (Some(5.0), Some(95.0)));
    assert_eq!(s.speakers[0].email.as_deref(), Some("ada@example.org"));
    assert_eq!(s.speakers[1].email, None);
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("Grace Hopper") && notes[0].contains("not in the speaker sheet"));
}

#[test]
fn a_malformed_email_cell_is_noted_and_not_used() {
    let t = table(&[
        &["Title", "Speakers", "Email"],
        &["Talk", "Ada, Bob", "ada@example.org; bob@"],
    ]);
    let row = find_row(&t, &["Talk"]).unwrap();
    let (s, notes) = row.fill(None, &SpeakerDirectory::default());
    assert_eq!(s.speakers[0].email.as_deref(), Some("ada@example.org"));
    assert_eq!(s.speakers[1].email, None);
    assert!(notes[0].contains("\"bob@\" is not an address"), "{notes:?}");
}

#[test]
fn address_shapes() {
    assert!(looks_like_address("a.b@example.org"));
    for bad in [
        "",
        "bob@",
        "@x.org",
        "a@b",
        "a b@x.org",
        "a@x.org;b@y.org",
        "a@@x.org",
    ] {
        assert!(!looks_like_address(bad), "{bad}");
    }
}

#[test]
fn a_speaker_sheet_needs_a_name_and_an_email_column() {
    let err = SpeakerDirectory::from_table(&table(&[&["Name", "Phone"]])).unwrap_err();
    assert!(err.to_string().contains("email"), "{err}");
}

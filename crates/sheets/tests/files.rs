//! Writing the link back into local sheet files: a workbook open in an office program
//! is left alone until it is closed; a row that moved is found by its title.

use vidpipe_domain::ports::LinkWriter;
use vidpipe_domain::talks::TalkRef;
use vidpipe_domain::PortError;
use vidpipe_sheets::local::{read, LocalSheets};
use vidpipe_sheets::FileFormat;

fn workbook(path: &std::path::Path, titles: &[&str]) {
    let mut book = umya_spreadsheet::new_file();
    let sheet = book.get_sheet_mut(&0).unwrap();
    sheet.set_name("Talks");
    sheet.get_cell_mut("A1").set_value("Title");
    sheet.get_cell_mut("B1").set_value("Video");
    for (i, t) in titles.iter().enumerate() {
        sheet.get_cell_mut((1, i as u32 + 2)).set_value(*t);
    }
    umya_spreadsheet::writer::xlsx::write(&book, path).unwrap();
}

fn talk(sheet: &std::path::Path, row_number: usize) -> TalkRef {
    TalkRef {
        sheet: sheet.display().to_string(),
        tab: "Talks".into(),
        row_number,
        title: "Metrics".into(),
    }
}

#[tokio::test]
async fn a_workbook_open_in_excel_waits_and_a_moved_row_is_found_by_its_title() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("talks.xlsx");
    workbook(&path, &["Keynote", "Metrics"]);
    let lock = dir.path().join("~$talks.xlsx");
    std::fs::write(&lock, b"owner").unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = LocalSheets
        .write_link(&talk(&path, 3), "https://x/1")
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Unavailable(_)), "{err}");
    assert!(
        err.to_string().contains("open in an office program"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "not touched while locked"
    );
    std::fs::remove_file(&lock).unwrap();
    // Someone inserted a row above it meanwhile: the link goes to the row's new place.
    workbook(&path, &["Keynote", "Lightning talks", "Metrics"]);
    LocalSheets
        .write_link(&talk(&path, 3), "https://x/1")
        .await
        .unwrap();
    let table = read(&path, FileFormat::Xlsx).unwrap().sheets.remove(0);
    assert_eq!(table.cell(3, 0), "Metrics");
    assert_eq!(table.cell(3, 1), "https://x/1");
    assert_eq!(table.cell(2, 1), "");
    // A row that is gone is a clear error.
    workbook(&path, &["Keynote"]);
    let err = LocalSheets
        .write_link(&talk(&path, 3), "https://x/1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, PortError::NotFound(_)) && err.to_string().contains("\"Metrics\""),
        "{err}"
    );
}

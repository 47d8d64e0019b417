//! The Google Sheets client against the stub of the Sheets API v4 and Google's token
//! endpoint (`vidpipe_sheets::stub`, which checks the token request's signature).

use serde_json::json;
use vidpipe_domain::ports::LinkWriter;
use vidpipe_domain::talks::SheetError;
use vidpipe_domain::PortError;
use vidpipe_sheets::google::GoogleSheets;
use vidpipe_sheets::stub::GoogleStub;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, ResponseTemplate};

const SHEET: &str = "1AbCdEfGhIjKlMnOpQrStUvWxYz";
const TITLE: &str = "Right metrics and wrong metrics: Is there such a thing4?";

async fn stub(talks: serde_json::Value) -> (GoogleStub, GoogleSheets) {
    let speakers = json!([["Name", "Email"], ["Ada Lovelace", "ada@example.org"]]);
    let stub = GoogleStub::start(SHEET, &[("Talks", talks), ("Speakers", speakers)]).await;
    let client = GoogleSheets::from_key_json(&stub.key_json(), &stub.server.uri()).unwrap();
    (stub, client)
}

/// The error `find_talk` gives when every GET of the spreadsheet answers `status` with
/// the API's error document.
async fn find_when_reads_answer(status: u16, error_status: &str, message: &str) -> SheetError {
    let stub = GoogleStub::start(SHEET, &[]).await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(status).set_body_json(json!({"error": {
                "code": status, "status": error_status, "message": message
            }})),
        )
        .with_priority(1)
        .mount(&stub.server)
        .await;
    let client = GoogleSheets::from_key_json(&stub.key_json(), &stub.server.uri()).unwrap();
    vidpipe_sheets::find_talk(
        &format!("gsheet:{SHEET}"),
        None,
        Some(&client),
        &["Keynote"],
    )
    .await
    .unwrap_err()
}

fn talks() -> serde_json::Value {
    json!([
        ["Title", "Speakers", "Room"],
        ["Keynote", "Grace Hopper"],
        [TITLE, "Ada Lovelace", "B1"]
    ])
}

#[tokio::test]
async fn the_row_is_read_and_the_link_written_with_one_batch_update() {
    let (stub, client) = stub(talks()).await;
    let talk = vidpipe_sheets::find_talk(
        &format!("gsheet:{SHEET}"),
        None,
        Some(&client),
        &["Right+metrics+and+wrong+metrics%3A+Is+there+such+a+thing4%3F.mp4"],
    )
    .await
    .unwrap();
    assert_eq!(talk.reference.tab, "Talks");
    assert_eq!(talk.row.row_number, 3);
    assert_eq!(
        talk.directory.email_of("ada lovelace"),
        Some("ada@example.org")
    );
    stub.expect_batch_update(json!({
        "valueInputOption": "RAW",
        "data": [
            {"range": "'Talks'!D3", "values": [["https://videos.example.org/talk"]]},
            {"range": "'Talks'!D1", "values": [["Link"]]}
        ]
    }))
    .await;
    client
        .write_link(&talk.reference, "https://videos.example.org/talk")
        .await
        .unwrap();
    let tokens = stub.server.received_requests().await.unwrap();
    let token_requests = tokens.iter().filter(|r| r.url.path() == "/token").count();
    assert_eq!(token_requests, 1, "the token is reused until it expires");
}

#[tokio::test]
async fn a_link_already_there_is_not_written_again() {
    let rows = json!([["Title", "URL"], [TITLE, "https://videos.example.org/talk"]]);
    let (stub, client) = stub(rows).await;
    let talk = vidpipe_sheets::find_talk(&format!("gsheet:{SHEET}"), None, Some(&client), &[TITLE])
        .await
        .unwrap();
    Mock::given(method("POST"))
        .and(path_regex("batchUpdate"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&stub.server)
        .await;
    client
        .write_link(&talk.reference, "https://videos.example.org/talk")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rate_limit_is_deferred_and_a_sheet_not_shared_is_a_clear_refusal() {
    let (stub, client) = stub(talks()).await;
    let talk = vidpipe_sheets::find_talk(
        &format!("gsheet:{SHEET}"),
        None,
        Some(&client),
        &["Keynote"],
    )
    .await
    .unwrap();
    Mock::given(method("POST"))
        .and(path_regex("batchUpdate"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {
            "code": 429, "status": "RESOURCE_EXHAUSTED",
            "message": "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user'"
        }})))
        .mount(&stub.server)
        .await;
    let err = client
        .write_link(&talk.reference, "https://x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, PortError::Unavailable(_)) && err.to_string().contains("Quota exceeded"),
        "{err}"
    );

    let err = find_when_reads_answer(
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
    )
    .await;
    assert!(matches!(err, SheetError::Unreadable { .. }), "{err}");
    assert!(
        err.to_string().contains("gsheet:") && err.to_string().contains("does not have permission"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_is_refused_by_the_token_endpoint() {
    let stub = GoogleStub::start(SHEET, &[("Talks", talks())]).await;
    let mut key: serde_json::Value = serde_json::from_str(&stub.key_json()).unwrap();
    let other = include_str!("other-key.pem");
    key["private_key"] = json!(other);
    let client = GoogleSheets::from_key_json(&key.to_string(), &stub.server.uri()).unwrap();
    let err = vidpipe_sheets::find_talk(
        &format!("gsheet:{SHEET}"),
        None,
        Some(&client),
        &["Keynote"],
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("invalid_grant") || err.to_string().contains("InvalidSignature"),
        "{err}"
    );
}

#[tokio::test]
async fn a_sheet_over_its_read_quota_is_unavailable_not_unreadable() {
    let err = find_when_reads_answer(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Read requests'",
    )
    .await;
    assert!(matches!(err, SheetError::Unavailable { .. }), "{err}");
}

#[test]
fn a_key_that_is_not_a_service_account_key_is_refused() {
    let err = GoogleSheets::from_key_json(
        r#"{"client_email":"a@b","private_key":"nope","token_uri":"x"}"#,
        "http://x",
    )
    .unwrap_err();
    assert!(err.to_string().contains("private_key"), "{err}");
    assert!(!err.to_string().contains("nope"));
}

//! The Google Sheets client against an HTTP stub that answers as the Sheets API v4
//! and Google's token endpoint document (developers.google.com/sheets/api/reference/
//! rest/v4/spreadsheets.values; developers.google.com/identity/protocols/oauth2/
//! service-account). The stub checks the token request's JWT with the key's public
//! half.

use std::path::Path;

use serde_json::{json, Value};
use vidpipe_domain::ports::LinkWriter;
use vidpipe_domain::talks::SheetError;
use vidpipe_domain::PortError;
use vidpipe_sheets::google::GoogleSheets;
use wiremock::matchers::{body_json, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SHEET: &str = "1AbCdEfGhIjKlMnOpQrStUvWxYz";
const TOKEN: &str = "ya29.test-token";
const TITLE: &str = "Right metrics and wrong metrics: Is there such a thing4?";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

/// Google's token endpoint: a JWT bearer grant signed (RS256) by the service account,
/// for the spreadsheets scope, addressed to this endpoint.
struct TokenEndpoint {
    audience: String,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> = url_form(&request.body);
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": "unsupported_grant_type"}));
        }
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(
            fixture("google-service-account.pub.pem").as_bytes(),
        )
        .unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        match jsonwebtoken::decode::<Value>(
            &get("assertion").unwrap_or_default(),
            &key,
            &validation,
        ) {
            Ok(jwt)
                if jwt.claims["scope"] == "https://www.googleapis.com/auth/spreadsheets"
                    && jwt.claims["iss"]
                        == "vidpipe-tests@vidpipe-tests.iam.gserviceaccount.com" =>
            {
                ResponseTemplate::new(200).set_body_json(
                    json!({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}),
                )
            }
            other => ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_grant", "error_description": format!("{other:?}")}),
            ),
        }
    }
}

fn url_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body).replace('+', " ");
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A stub with the token endpoint and the spreadsheet's two tabs; the client for it.
async fn stub(talks: Value) -> (MockServer, GoogleSheets) {
    let server = MockServer::start().await;
    let token_uri = format!("{}/token", server.uri());
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(TokenEndpoint {
            audience: token_uri.clone(),
        })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v4/spreadsheets/{SHEET}")))
        .and(query_param("fields", "sheets.properties.title"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sheets": [{"properties": {"title": "Talks"}}, {"properties": {"title": "Speakers"}}]
        })))
        .mount(&server)
        .await;
    for (tab, values) in [
        ("Talks", talks),
        (
            "Speakers",
            json!([["Name", "Email"], ["Ada Lovelace", "ada@example.org"]]),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path_regex(format!(
                r"^/v4/spreadsheets/{SHEET}/values/(%27|'){tab}(%27|')$"
            )))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "range": format!("{tab}!A1:Z1000"), "majorDimension": "ROWS", "values": values
            })))
            .mount(&server)
            .await;
    }
    let mut key: Value = serde_json::from_str(&fixture("google-service-account.json")).unwrap();
    key["token_uri"] = json!(token_uri);
    let client = GoogleSheets::from_key_json(&key.to_string(), &server.uri()).unwrap();
    (server, client)
}

fn talks() -> Value {
    json!([
        ["Title", "Speakers", "Room"],
        ["Keynote", "Grace Hopper"],
        [TITLE, "Ada Lovelace", "B1"]
    ])
}

#[tokio::test]
async fn the_row_is_read_and_the_link_written_with_one_batch_update() {
    let (server, client) = stub(talks()).await;
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
    Mock::given(method("POST"))
        .and(path(format!("/v4/spreadsheets/{SHEET}/values:batchUpdate")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "valueInputOption": "RAW",
            "data": [
                {"range": "'Talks'!D3", "values": [["https://videos.example.org/talk"]]},
                {"range": "'Talks'!D1", "values": [["Link"]]}
            ]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "spreadsheetId": SHEET, "totalUpdatedRows": 2, "totalUpdatedColumns": 1, "totalUpdatedCells": 2,
            "responses": [{"spreadsheetId": SHEET, "updatedRange": "Talks!D3", "updatedCells": 1}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    client
        .write_link(&talk.reference, "https://videos.example.org/talk")
        .await
        .unwrap();
    // The token was asked for once and reused (the stub expects one request).
}

#[tokio::test]
async fn a_link_already_there_is_not_written_again() {
    let rows = json!([["Title", "URL"], [TITLE, "https://videos.example.org/talk"]]);
    let (server, client) = stub(rows).await;
    let talk = vidpipe_sheets::find_talk(&format!("gsheet:{SHEET}"), None, Some(&client), &[TITLE])
        .await
        .unwrap();
    Mock::given(method("POST"))
        .and(path_regex("batchUpdate"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    client
        .write_link(&talk.reference, "https://videos.example.org/talk")
        .await
        .unwrap();
}

#[tokio::test]
async fn refusals_are_clear_and_rate_limits_are_deferred() {
    let (server, client) = stub(talks()).await;
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
        .mount(&server)
        .await;
    let err = client
        .write_link(&talk.reference, "https://x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, PortError::Unavailable(_)) && err.to_string().contains("Quota exceeded"),
        "{err}"
    );

    let other = MockServer::start().await;
    let mut key: Value = serde_json::from_str(&fixture("google-service-account.json")).unwrap();
    key["token_uri"] = json!(format!("{}/token", other.uri()));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(TokenEndpoint {
            audience: format!("{}/token", other.uri()),
        })
        .mount(&other)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": 403, "status": "PERMISSION_DENIED", "message": "The caller does not have permission"
        }})))
        .mount(&other)
        .await;
    let unshared = GoogleSheets::from_key_json(&key.to_string(), &other.uri()).unwrap();
    let err = vidpipe_sheets::find_talk(
        &format!("gsheet:{SHEET}"),
        None,
        Some(&unshared),
        &["Keynote"],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SheetError::Unreadable { .. }), "{err}");
    assert!(
        err.to_string().contains("gsheet:") && err.to_string().contains("does not have permission"),
        "{err}"
    );
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

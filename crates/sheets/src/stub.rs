//! A stand-in for Google's token endpoint and the Sheets API v4, for every crate's
//! tests (feature `test-util`): an in-process HTTP server (wiremock) answering in the
//! shapes the API documents (developers.google.com/sheets/api/reference/rest/v4/
//! spreadsheets.values; developers.google.com/identity/protocols/oauth2/
//! service-account). The token endpoint checks the JWT bearer grant's signature with
//! the test key's public half (`tests/fixtures/google-service-account.pub.pem`).

use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The access token the stub's token endpoint gives.
pub const TOKEN: &str = "ya29.test-token";
const KEY: &str = include_str!("../../../tests/fixtures/google-service-account.json");
const PUBLIC_KEY: &str = include_str!("../../../tests/fixtures/google-service-account.pub.pem");

/// The stub of one spreadsheet.
pub struct GoogleStub {
    pub server: MockServer,
    pub spreadsheet_id: String,
}

impl GoogleStub {
    /// Serves the token endpoint and the spreadsheet's tabs, each `(name, values)` with
    /// `values` the rows as the API returns them (`[["Title", …], …]`).
    pub async fn start(spreadsheet_id: &str, tabs: &[(&str, Value)]) -> GoogleStub {
        let server = MockServer::start().await;
        let audience = format!("{}/token", server.uri());
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(TokenEndpoint { audience })
            .mount(&server)
            .await;
        let bearer = format!("Bearer {TOKEN}");
        let titles: Vec<Value> = tabs
            .iter()
            .map(|(t, _)| json!({"properties": {"title": t}}))
            .collect();
        Mock::given(method("GET"))
            .and(path(format!("/v4/spreadsheets/{spreadsheet_id}")))
            .and(query_param("fields", "sheets.properties.title"))
            .and(header("authorization", bearer.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "sheets": titles })))
            .mount(&server)
            .await;
        for (tab, values) in tabs {
            Mock::given(method("GET"))
                .and(path_regex(format!(
                    r"^/v4/spreadsheets/{spreadsheet_id}/values/(%27|'){tab}(%27|')$"
                )))
                .and(header("authorization", bearer.as_str()))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "range": format!("{tab}!A1:Z1000"), "majorDimension": "ROWS", "values": values
                })))
                .mount(&server)
                .await;
        }
        GoogleStub {
            server,
            spreadsheet_id: spreadsheet_id.to_string(),
        }
    }

    /// The test service account's key, its `token_uri` pointed at this stub.
    pub fn key_json(&self) -> String {
        let mut key: Value = serde_json::from_str(KEY).unwrap_or_default();
        key["token_uri"] = json!(format!("{}/token", self.server.uri()));
        key.to_string()
    }

    /// Expects exactly one `values:batchUpdate` whose body includes `body` (answered as
    /// the API does); checked when the stub is dropped.
    pub async fn expect_batch_update(&self, body: Value) {
        Mock::given(method("POST"))
            .and(path(format!(
                "/v4/spreadsheets/{}/values:batchUpdate",
                self.spreadsheet_id
            )))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_partial_json(body))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "spreadsheetId": self.spreadsheet_id, "totalUpdatedCells": 2,
                "responses": [{"spreadsheetId": self.spreadsheet_id, "updatedCells": 1}]
            })))
            .expect(1)
            .mount(&self.server)
            .await;
    }
}

/// Google's token endpoint: a JWT bearer grant signed (RS256) by the test service
/// account, for the spreadsheets scope, addressed to this endpoint.
struct TokenEndpoint {
    audience: String,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> = String::from_utf8_lossy(&request.body)
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if get("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": "unsupported_grant_type"}));
        }
        let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()) else {
            return ResponseTemplate::new(500);
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        let assertion = get("assertion").unwrap_or_default();
        match jsonwebtoken::decode::<Value>(&assertion, &key, &validation) {
            Ok(jwt)
                if jwt.claims["scope"] == crate::google::SCOPE
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

/// `application/x-www-form-urlencoded` text decoded (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

//! Google Sheets (Sheets API v4) with a service account: the talk sheet read with
//! `values:batchGet`, the link written with one `values:batchUpdate` (the link cell,
//! and the header when the link column is new). Sources:
//! developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values/{batchGet,batchUpdate};
//! the token from the service account's key by the OAuth 2.0 JWT bearer grant
//! (developers.google.com/identity/protocols/oauth2/service-account, RFC 7523).
//! Quotas are 60 requests a minute per user (developers.google.com/sheets/api/limits):
//! a 429 or 5xx is [`PortError::Unavailable`], left for the next run.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use vidpipe_domain::ports::LinkWriter;
use vidpipe_domain::talks::{SheetError, SheetTable, TalkRef};
use vidpipe_domain::PortError;

use crate::{SheetSource, Workbook};

/// The scope a service account asks for to read and write sheets.
pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
/// The Sheets API's root.
pub const API_BASE: &str = "https://sheets.googleapis.com";

/// The fields of a service account's JSON key that the token grant uses.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key: String,
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never reaches a log.
        write!(f, "ServiceAccountKey({})", self.client_email)
    }
}

/// A Sheets API client for one service account.
pub struct GoogleSheets {
    http: reqwest::Client,
    api_base: String,
    key: ServiceAccountKey,
    /// The key's private half, parsed once.
    signing: jsonwebtoken::EncodingKey,
    token: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for GoogleSheets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GoogleSheets({:?}, {})", self.key, self.api_base)
    }
}

impl GoogleSheets {
    /// A client from a service account's JSON key (as Google downloads it; in the
    /// cloud, the secret's string).
    ///
    /// # Errors
    /// [`SheetError::Unreadable`] when the key is not such a document or its private
    /// key is not an RSA PEM.
    pub fn from_key_json(key_json: &str, api_base: &str) -> Result<GoogleSheets, SheetError> {
        let bad = |reason: String| SheetError::Unreadable {
            sheet: "the service account key".into(),
            reason,
        };
        let key: ServiceAccountKey =
            serde_json::from_str(key_json).map_err(|e| bad(e.to_string()))?;
        let signing = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
            .map_err(|e| bad(format!("private_key: {e}")))?;
        Ok(GoogleSheets {
            signing,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(|e| bad(e.to_string()))?,
            api_base: api_base.trim_end_matches('/').to_string(),
            key,
            token: Mutex::new(None),
        })
    }

    /// An access token, reused until a minute before it expires.
    async fn token(&self) -> Result<String, PortError> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = json!({
            "iss": self.key.client_email, "scope": SCOPE, "aud": self.key.token_uri,
            "iat": now, "exp": now + 3600,
        });
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &self.signing,
        )
        .map_err(|e| PortError::Failed(format!("signing the token request: {e}")))?;
        let response = self
            .http
            .post(&self.key.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &assertion),
            ])
            .send()
            .await
            .map_err(|e| PortError::Unavailable(format!("token: {e}")))?;
        let body: Value = checked(response, "token").await?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| PortError::Failed("token: no access_token in the answer".into()))?
            .to_string();
        let lifetime_s = body["expires_in"]
            .as_u64()
            .unwrap_or(3600)
            .saturating_sub(60);
        *cached = Some((
            token.clone(),
            Instant::now() + Duration::from_secs(lifetime_s),
        ));
        Ok(token)
    }

    async fn get(&self, url: &str, query: &[(&str, &str)]) -> Result<Value, PortError> {
        let token = self.token().await?;
        let response = self
            .http
            .get(url)
            .query(query)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| PortError::Unavailable(e.to_string()))?;
        checked(response, url).await
    }

    /// Every tab of the spreadsheet, as text (`FORMATTED_VALUE`, as people see it).
    ///
    /// # Errors
    /// [`SheetError::Unreadable`] with the API's reason (no such spreadsheet, not
    /// shared with the service account); [`SheetError::Unavailable`] for a quota
    /// (429), a 5xx or the network.
    pub async fn read(&self, spreadsheet_id: &str) -> Result<Workbook, SheetError> {
        let unreadable = |e: PortError| match e {
            PortError::Unavailable(reason) => SheetError::Unavailable {
                sheet: format!("gsheet:{spreadsheet_id}"),
                reason,
            },
            other => SheetError::Unreadable {
                sheet: format!("gsheet:{spreadsheet_id}"),
                reason: other.to_string(),
            },
        };
        let base = format!("{}/v4/spreadsheets/{spreadsheet_id}", self.api_base);
        let meta = self
            .get(&base, &[("fields", "sheets.properties.title")])
            .await
            .map_err(unreadable)?;
        let tabs: Vec<String> = meta["sheets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["properties"]["title"].as_str().map(str::to_string))
            .collect();
        let mut sheets = Vec::new();
        for tab in tabs {
            let range = quoted(&tab);
            let values = self
                .get(
                    &format!("{base}/values/{}", urlencode(&range)),
                    &[("majorDimension", "ROWS")],
                )
                .await
                .map_err(unreadable)?;
            sheets.push(SheetTable {
                name: tab,
                rows: rows_of(&values),
            });
        }
        Ok(Workbook { sheets })
    }
}

impl LinkWriter for GoogleSheets {
    async fn write_link(&self, talk: &TalkRef, link: &str) -> Result<(), PortError> {
        let Ok(SheetSource::Google { spreadsheet_id }) = SheetSource::parse(&talk.sheet) else {
            return Err(PortError::Failed(format!(
                "{}: not a Google Sheet",
                talk.sheet
            )));
        };
        let base = format!("{}/v4/spreadsheets/{spreadsheet_id}", self.api_base);
        // Read the tab again: the row is found by its title where it is now.
        let values = self
            .get(
                &format!("{base}/values/{}", urlencode(&quoted(&talk.tab))),
                &[("majorDimension", "ROWS")],
            )
            .await?;
        let table = SheetTable {
            name: talk.tab.clone(),
            rows: rows_of(&values),
        };
        let Some((row, col, new)) = crate::link_cell(&table, talk, link)? else {
            return Ok(());
        };
        let cell = |r: usize| format!("{}!{}{}", quoted(&talk.tab), column_letters(col), r + 1);
        let mut data = vec![json!({"range": cell(row), "values": [[link]]})];
        if new {
            data.push(json!({"range": cell(0), "values": [[crate::LINK_HEADER]]}));
        }
        let token = self.token().await?;
        let response = self
            .http
            .post(format!("{base}/values:batchUpdate"))
            .bearer_auth(token)
            .json(&json!({"valueInputOption": "RAW", "data": data}))
            .send()
            .await
            .map_err(|e| PortError::Unavailable(e.to_string()))?;
        checked(response, "values:batchUpdate").await.map(|_| ())
    }
}

/// The answer's JSON, or the error its status means: 429 and 5xx retryable, 401 and
/// 403 (not shared with the service account, key revoked) failed, 404 not found.
async fn checked(response: reqwest::Response, what: &str) -> Result<Value, PortError> {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        return serde_json::from_str(&body)
            .map_err(|e| PortError::Failed(format!("{what}: not JSON: {e}")));
    }
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v["error"]["message"]
                .as_str()
                .or(v["error_description"].as_str())
                .map(str::to_string)
        })
        .unwrap_or(body);
    let text = format!("{what}: HTTP {}: {message}", status.as_u16());
    Err(match status.as_u16() {
        404 => PortError::NotFound(text),
        429 | 500..=599 => PortError::Unavailable(text),
        _ => PortError::Failed(text),
    })
}

fn rows_of(values: &Value) -> Vec<Vec<String>> {
    values["values"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            row.as_array()
                .into_iter()
                .flatten()
                .map(|c| match c {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

/// A tab name quoted for A1 notation (`'Talk list'`, a quote doubled).
fn quoted(tab: &str) -> String {
    format!("'{}'", tab.replace('\'', "''"))
}

/// A 0-based column index in A1 letters: 0 → A, 25 → Z, 26 → AA.
pub fn column_letters(mut col: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_columns() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
        assert_eq!(quoted("Bob's talks"), "'Bob''s talks'");
    }
}

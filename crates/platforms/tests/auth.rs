//! Credentials: Google's installed-app consent through a loopback redirect, with a
//! stand-in of Google's token endpoint that checks the PKCE verifier against the
//! challenge (the test plays the person's browser); and the file only its owner reads.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};
use vidpipe_platforms::auth::{
    Credentials, GoogleInstalledApp, VimeoCredentials, YouTubeCredentials,
};
use vidpipe_platforms::UploadError;

/// The code challenge the consent URL carried, and the token request that came.
#[derive(Default)]
struct Google {
    challenge: String,
    redirect_uri: String,
    exchanged: Vec<(String, String)>,
}

type Shared = Arc<Mutex<Google>>;

async fn token(State(g): State<Shared>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let get = |k: &str| {
        form.iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut s = g.lock().unwrap();
    s.exchanged = form.clone();
    let verifier = get("code_verifier");
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if get("code") != "4/0AX4XfWh-the-code"
        || challenge != s.challenge
        || get("redirect_uri") != s.redirect_uri
    {
        let body =
            include_str!("../../../tests/fixtures/platforms/google-token-invalid-grant.json");
        return (StatusCode::BAD_REQUEST, body).into_response();
    }
    Json(
        json!({"access_token": "ya29.a", "expires_in": 3599, "refresh_token": "1//0refresh",
        "scope": "https://www.googleapis.com/auth/youtube.upload", "token_type": "Bearer"}),
    )
    .into_response()
}

async fn google() -> (GoogleInstalledApp, Shared) {
    let g = Shared::default();
    let app = Router::new()
        .route("/token", post(token))
        .with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let installed = GoogleInstalledApp {
        client: reqwest::Client::new(),
        auth_url: format!("{base}/o/oauth2/v2/auth"),
        token_url: format!("{base}/token"),
        client_id: "123-abc.apps.googleusercontent.com".into(),
        client_secret: "GOCSPX-secret".into(),
    };
    (installed, g)
}

fn param(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    let raw = query
        .split('&')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {url}"));
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// Plays the browser: opens the consent URL's redirect with `code` and `state` (or
/// what `tamper` makes of them), and returns the page vidpipe answered.
async fn consent(
    installed: &GoogleInstalledApp,
    g: &Shared,
    tamper: fn(String) -> String,
) -> (Result<String, UploadError>, String) {
    let (url_tx, url_rx) = tokio::sync::oneshot::channel::<String>();
    let flow = installed.authorise(move |url| url_tx.send(url.to_string()).unwrap());
    let browser = async {
        let url = url_rx.await.unwrap();
        assert!(url.starts_with(&installed.auth_url), "{url}");
        assert_eq!(param(&url, "access_type"), "offline");
        assert_eq!(param(&url, "code_challenge_method"), "S256");
        assert!(param(&url, "scope").contains("youtube.upload"));
        let redirect = param(&url, "redirect_uri");
        assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
        {
            let mut s = g.lock().unwrap();
            s.challenge = param(&url, "code_challenge");
            s.redirect_uri = redirect.clone();
        }
        let back = tamper(format!(
            "{redirect}?state={}&code=4/0AX4XfWh-the-code&scope=x",
            param(&url, "state")
        ));
        reqwest::get(back).await.unwrap().text().await.unwrap()
    };
    tokio::join!(flow, browser)
}

#[tokio::test]
async fn the_consent_comes_back_to_the_loopback_and_buys_a_refresh_token() {
    let (installed, g) = google().await;
    let (token, page) = consent(&installed, &g, |u| u).await;
    assert_eq!(token.unwrap(), "1//0refresh");
    assert!(page.contains("you may close this page"), "{page}");
    let sent = g.lock().unwrap().exchanged.clone();
    assert!(
        sent.contains(&("grant_type".into(), "authorization_code".into())),
        "{sent:?}"
    );
    assert!(sent.contains(&("client_secret".into(), "GOCSPX-secret".into())));
}

#[tokio::test]
async fn another_state_or_a_refusal_gets_no_token() {
    let (installed, g) = google().await;
    let (token, page) = consent(&installed, &g, |u| u.replace("state=", "state=forged")).await;
    let err = token.unwrap_err().to_string();
    assert!(err.contains("state"), "{err}");
    assert!(page.contains("did not get the consent"), "{page}");
    assert!(g.lock().unwrap().exchanged.is_empty(), "no code exchanged");
    let (token, _) = consent(&installed, &g, |u| {
        let redirect = u.split('?').next().unwrap().to_string();
        let state = u
            .split("state=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string();
        format!("{redirect}?error=access_denied&state={state}")
    })
    .await;
    assert!(token.unwrap_err().to_string().contains("access_denied"));
}

#[test]
fn the_file_is_its_owner_s_alone_and_never_shows_its_tokens() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vidpipe/credentials.json");
    assert_eq!(Credentials::load(&path).unwrap(), Credentials::default());
    let creds = Credentials {
        youtube: Some(YouTubeCredentials {
            client_id: "id".into(),
            client_secret: "GOCSPX-secret".into(),
            refresh_token: "1//0refresh".into(),
        }),
        vimeo: Some(VimeoCredentials {
            access_token: "vimeo-secret".into(),
        }),
        facebook: None,
    };
    creds.save(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(Credentials::load(&path).unwrap(), creds);
    let shown = format!("{creds:?}");
    assert!(
        !shown.contains("secret") && !shown.contains("1//0"),
        "{shown}"
    );
    // Readable by others: refused with the reason and the fix, not the content.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Credentials::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("mode 644") && err.contains("chmod 600"),
        "{err}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, b"{\"vimeo\": {\"access_token\": 7}}").unwrap();
    let err = Credentials::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("not a credentials document") && !err.contains("7"),
        "{err}"
    );
}

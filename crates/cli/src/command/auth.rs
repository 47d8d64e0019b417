//! `vidpipe auth youtube|vimeo|facebook`: gets a platform's credentials and keeps them
//! in the credentials file (its owner's alone: see `vidpipe_platforms::auth`).
//! YouTube: Google's consent in a browser, back to a loopback address; Vimeo and
//! Facebook: tokens their developer pages issue, pasted on standard input (never on
//! the command line, where other users' `ps` would see them).

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use vidpipe_platforms::auth::{
    Credentials, FacebookCredentials, GoogleInstalledApp, VimeoCredentials, YouTubeCredentials,
};

#[derive(Args)]
pub struct AuthArgs {
    /// The credentials file. Default: `$XDG_CONFIG_HOME/vidpipe/credentials.json`
    /// (`~/.config/vidpipe/credentials.json`).
    #[arg(long, env = "VIDPIPE_CREDENTIALS", global = true)]
    pub credentials: Option<PathBuf>,
    #[command(subcommand)]
    pub platform: Platform,
}

#[derive(Subcommand)]
pub enum Platform {
    /// Sign in with Google and allow vidpipe to upload (scopes youtube.upload and
    /// youtube.force-ssl); keeps the refresh token. The client is a "Desktop app"
    /// OAuth client of a Google Cloud project with the YouTube Data API enabled.
    Youtube {
        #[arg(long, env = "VIDPIPE_GOOGLE_CLIENT_ID")]
        client_id: String,
        #[arg(long, env = "VIDPIPE_GOOGLE_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// Google's consent page (a stand-in's in tests).
        #[arg(
            long,
            env = "VIDPIPE_GOOGLE_AUTH_URL",
            hide = true,
            default_value = "https://accounts.google.com/o/oauth2/v2/auth"
        )]
        auth_url: String,
        #[arg(
            long,
            env = "VIDPIPE_GOOGLE_TOKEN_URL",
            hide = true,
            default_value = "https://oauth2.googleapis.com/token"
        )]
        token_url: String,
    },
    /// Keep a Vimeo personal access token (scopes upload, edit, video_files), read
    /// from standard input.
    Vimeo,
    /// Keep a Facebook user token and the Page's token (with pages_manage_posts),
    /// read from standard input, one per line.
    Facebook {
        /// The Meta app the user token belongs to.
        #[arg(long)]
        app_id: String,
        /// The Page videos go to.
        #[arg(long)]
        page_id: String,
    },
}

fn default_path() -> Result<PathBuf> {
    let dir = crate::publishing::config_dir()
        .context("neither XDG_CONFIG_HOME nor HOME is set: name the file with --credentials")?;
    Ok(dir.join("credentials.json"))
}

/// One token from standard input, named `what` in the prompt and errors.
fn read_token(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    what: &str,
) -> Result<String> {
    eprintln!("Paste the {what} and press Enter:");
    let line = lines
        .next()
        .with_context(|| format!("no {what} on standard input"))?
        .with_context(|| format!("reading the {what}"))?;
    let token = line.trim().to_string();
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        bail!("the {what} is empty or has spaces in it");
    }
    Ok(token)
}

/// Gets the platform's credentials and keeps them; exit 0 once saved.
pub async fn run(args: &AuthArgs) -> Result<std::process::ExitCode> {
    let path = match &args.credentials {
        Some(p) => p.clone(),
        None => default_path()?,
    };
    let mut credentials = Credentials::load(&path)?;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let name = match &args.platform {
        Platform::Youtube {
            client_id,
            client_secret,
            auth_url,
            token_url,
        } => {
            let app = GoogleInstalledApp {
                client: reqwest::Client::new(),
                auth_url: auth_url.clone(),
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
            };
            let refresh_token = app
                .authorise(|url| {
                    println!("Open this address in a browser on this machine, sign in and allow vidpipe:\n{url}");
                })
                .await
                .context("Google's consent")?;
            credentials.youtube = Some(YouTubeCredentials {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                refresh_token,
            });
            "YouTube"
        }
        Platform::Vimeo => {
            let access_token = read_token(&mut lines, "Vimeo access token")?;
            credentials.vimeo = Some(VimeoCredentials { access_token });
            "Vimeo"
        }
        Platform::Facebook { app_id, page_id } => {
            let user_token = read_token(&mut lines, "Facebook user token")?;
            let page_token = read_token(&mut lines, "Facebook Page token")?;
            credentials.facebook = Some(FacebookCredentials {
                app_id: app_id.clone(),
                page_id: page_id.clone(),
                user_token,
                page_token,
            });
            "Facebook"
        }
    };
    credentials.save(&path)?;
    println!(
        "{name} credentials saved in {} (readable by you only)",
        path.display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

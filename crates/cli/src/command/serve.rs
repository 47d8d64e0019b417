//! `vidpipe serve`: the web app over the output folder (`serve/`), with a queue that
//! processes what is uploaded or linked.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::process::ProcessArgs;
use crate::queue::{Queue, WorkerArgs};
use crate::serve::{random_token, router, App};

#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Address and port to listen on. Anything but a loopback address needs --token.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A secret every request must carry (Authorization: Bearer …, or ?token= once in
    /// a browser, which then keeps it in a cookie).
    #[arg(long, env = "VIDPIPE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Download links to loopback, private and link-local addresses too.
    #[arg(long)]
    pub allow_private_links: bool,
    /// The largest upload, in MiB.
    #[arg(long, default_value_t = 20 * 1024)]
    pub max_upload_mib: u64,
    /// The largest download a link may give, in MiB.
    #[arg(long, default_value_t = 20 * 1024)]
    pub max_download_mib: u64,
    #[command(flatten)]
    pub workers: WorkerArgs,
}

/// Serves until interrupted (Ctrl-C), then lets the videos being processed finish.
///
/// # Errors
/// A non-loopback address without `--token`; the address cannot be bound; the output
/// folder or database cannot be opened.
pub async fn run(out: &Path, args: &ServeArgs) -> Result<ExitCode> {
    let ip = args.listen.ip();
    if !ip.is_loopback() && args.token.is_none() {
        bail!("--listen {}: listening beyond this machine needs --token (every request must then carry it)", args.listen);
    }
    if args.token.as_deref().is_some_and(|t| t.len() < 16) {
        bail!("--token: use at least 16 characters");
    }
    let (store, records) = super::open(out)?;
    super::reconcile(&records).await?;
    let process = ProcessArgs {
        max_download_mib: args.max_download_mib,
        ..args.workers.process_args()
    };
    let workers = args.workers.workers();
    let app = Arc::new(App {
        out: store.root().to_path_buf(),
        store,
        records,
        queue: Queue::start(out, &process, workers),
        csrf: random_token()?,
        token: args.token.clone(),
        allow_private_links: args.allow_private_links,
        max_upload_bytes: args.max_upload_mib.saturating_mul(1 << 20),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener.local_addr()?;
    if ip.is_loopback() {
        eprintln!("vidpipe serve: http://{bound}/ (this machine only)");
    } else {
        eprintln!("vidpipe serve: http://{bound}/ — reachable from the network; every request must carry the token");
    }
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the server stopped")?;
    Ok(ExitCode::SUCCESS)
}

//! `vidpipe publish --due`: makes what is still due for published videos: emails a
//! mail server could not take, sheet links a locked sheet deferred, and emails a run
//! without a mail server could not send.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use vidpipe_domain::record::VideoStatus;

use crate::delivery::{print_report, DeliveryArgs};

#[derive(clap::Args)]
pub struct PublishArgs {
    /// Every published video's due emails and sheet links.
    #[arg(long)]
    due: bool,
    #[command(flatten)]
    delivery: DeliveryArgs,
}

/// Exit status 0 when nothing is left due, 1 when something is still waiting or was
/// refused (each named on its own line).
pub async fn run(out: &Path, args: &PublishArgs) -> Result<ExitCode> {
    if !args.due {
        bail!(
            "say what to publish: --due (every published video's pending emails and sheet links)"
        );
    }
    let delivery = args.delivery.open()?;
    let (_, records) = super::open(out)?;
    let mut clean = true;
    let mut videos = 0;
    for record in records
        .all()?
        .into_iter()
        .filter(|r| r.status == VideoStatus::Published)
    {
        let report = delivery.notify(&records, &record.id).await?;
        if report == Default::default() {
            continue;
        }
        videos += 1;
        println!("video {}: {}", record.id, record.title());
        clean &= print_report(&report);
    }
    if videos == 0 {
        println!("nothing due");
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

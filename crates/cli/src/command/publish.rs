//! `vidpipe publish`: one video to its platforms (`vidpipe publish ID [--to …]`), or
//! whatever is due for every video (`--due`): destinations whose wait is over (a rate
//! limit, a spent quota, a platform's processing), then the emails a mail server could
//! not take and the sheet links a locked sheet deferred.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use vidpipe_domain::destinations::state::Destination;
use vidpipe_domain::destinations::{DestinationRequest, Platform};
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{VideoRecord, VideoStatus};
use vidpipe_domain::stages::modify_record;
use vidpipe_local::SqliteRecords;

use crate::delivery::{print_report, DeliveryArgs};
use crate::publishing::{print_destinations, Publishing, PublishingArgs};

#[derive(clap::Args)]
pub struct PublishArgs {
    /// The video (its id, or a unique start of it, at least 4 characters).
    #[arg(value_name = "VIDEO_ID")]
    id: Option<String>,
    /// The platforms to publish the video to (youtube,vimeo,facebook): each is added
    /// when the video lacks it, and one waiting, refused or needing credentials is
    /// tried again now.
    #[arg(long, value_delimiter = ',', value_parser = platform, requires = "id")]
    to: Vec<Platform>,
    /// Everything due, for every video: destinations whose wait is over, pending
    /// emails and sheet links.
    #[arg(long)]
    due: bool,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    publishing: PublishingArgs,
}

fn platform(name: &str) -> Result<Platform, String> {
    Platform::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Platform::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown platform {name:?}: vidpipe publishes to {}",
            names.join(", ")
        )
    })
}

/// Exit status 0 when nothing is left due, 1 when something is still waiting or was
/// refused (each named on its own line).
pub async fn run(out: &Path, args: &PublishArgs) -> Result<ExitCode> {
    if !args.due && args.id.is_none() {
        bail!("say what to publish: a video id (with --to to add platforms), or --due (whatever is due, for every video)");
    }
    let delivery = args.delivery.open()?;
    let publishing = args.publishing.open()?;
    let (store, records) = super::open(out)?;
    let notifier = delivery.notifier();
    let mut clean = true;
    let mut touched = 0;
    let chosen = match &args.id {
        Some(id) => vec![super::find_one(&records, out, id)?],
        None => Vec::new(),
    };
    let chosen_id = chosen.first().map(|v| v.id.clone());
    if let Some(video) = chosen.first() {
        add_or_renew(&records, video, &args.to, &publishing).await?;
    }
    let candidates = if args.due {
        let now = publishing.now();
        records.all()?.into_iter().filter(|r| due(r, now)).collect()
    } else {
        chosen
    };
    let mut platforms = None;
    for video in candidates {
        let Some(video) = records.get(&video.id).await? else {
            continue;
        };
        if video.destinations.is_empty() || video.status == VideoStatus::Failed {
            if args.id.is_some() {
                println!(
                    "video {}: no platforms to publish to (name them with --to)",
                    video.id
                );
            }
            continue;
        }
        touched += 1;
        let platforms = match &platforms {
            Some(p) => p,
            None => platforms.insert(publishing.platforms(&store)?),
        };
        let report = publishing
            .drive(platforms, &store, &records, &notifier, &video.id)
            .await?;
        let video = records.get(&video.id).await?.unwrap_or(video);
        println!("video {}: {}", video.id, video.title());
        clean &= print_destinations(&video, &report);
        clean &= report.states.iter().all(|(_, s)| s.starts_with("done"));
    }
    let mut notified = 0;
    for record in records
        .all()?
        .into_iter()
        .filter(|r| r.status == VideoStatus::Published)
        .filter(|r| args.due || chosen_id.as_ref() == Some(&r.id))
    {
        let report = delivery.notify(&records, &record.id).await?;
        if report == Default::default() {
            continue;
        }
        notified += 1;
        println!("video {}: {}", record.id, record.title());
        clean &= print_report(&report);
    }
    if touched == 0 && notified == 0 && args.due {
        println!("nothing due");
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Whether a destination of `video` has a step due at `now` (or the video is
/// published and may have emails due).
fn due(video: &VideoRecord, now: i64) -> bool {
    video.status != VideoStatus::Failed && video.destinations.iter().any(|d| d.is_due(now))
}

/// Adds each platform of `to` the video lacks (as the sidecar or the deployment's
/// list asks for it, else with the defaults), and renews the ones it has.
async fn add_or_renew(
    records: &SqliteRecords,
    video: &VideoRecord,
    to: &[Platform],
    publishing: &Publishing,
) -> Result<()> {
    if to.is_empty() {
        return Ok(());
    }
    let asked = video.destination_requests(&publishing.requests);
    let requests: Vec<DestinationRequest> = to
        .iter()
        .map(|p| {
            asked
                .iter()
                .chain(publishing.requests.iter())
                .find(|r| r.to == *p)
                .cloned()
                .unwrap_or_else(|| DestinationRequest::to(*p))
        })
        .collect();
    modify_record(records, &video.id, |r| {
        for request in &requests {
            let mut have = false;
            for d in r
                .destinations
                .iter_mut()
                .filter(|d| d.request.to == request.to)
            {
                have = true;
                d.renew();
            }
            if !have {
                r.destinations
                    .extend(Destination::all_of(std::slice::from_ref(request)));
            }
        }
        Some(())
    })
    .await?;
    Ok(())
}

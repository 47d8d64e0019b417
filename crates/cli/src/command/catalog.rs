//! `vidpipe catalog set CATALOG --id ID [--start T] [--end T] [--link URL]`: sets a
//! dataset's period and link in a catalog JSON, locally or on S3.

use std::process::ExitCode;

use anyhow::{bail, Result};
use vidpipe_domain::catalog::{iso8601_utc, CatalogUpdate};
use vidpipe_sheets::catalog::{self, CatalogLocation, CatalogOutcome};

#[derive(clap::Subcommand)]
pub enum CatalogCommand {
    /// Set a dataset's startTime, endTime and dataLink, keeping every other field.
    Set(SetArgs),
}

#[derive(clap::Args)]
pub struct SetArgs {
    /// The catalog: a JSON file, or s3://bucket/key (credentials, region and endpoint
    /// from the usual AWS_* variables).
    catalog: String,
    /// The dataset's id.
    #[arg(long)]
    id: String,
    /// The period's first time, ISO 8601 in UTC (2024-02-26T19:00:00Z, or a date).
    #[arg(long, value_parser = utc)]
    start: Option<String>,
    /// The period's last time, ISO 8601 in UTC.
    #[arg(long, value_parser = utc)]
    end: Option<String>,
    /// The published video's URL.
    #[arg(long)]
    link: Option<String>,
}

fn utc(text: &str) -> Result<String, String> {
    iso8601_utc(text)
}

pub async fn run(command: &CatalogCommand) -> Result<ExitCode> {
    let CatalogCommand::Set(args) = command;
    if args.start.is_none() && args.end.is_none() && args.link.is_none() {
        bail!("nothing to set: give --start, --end or --link");
    }
    let location = CatalogLocation::parse(&args.catalog)?;
    let update = CatalogUpdate {
        start: args.start.clone(),
        end: args.end.clone(),
        link: args.link.clone(),
    };
    match catalog::set(&location, &args.id, &update).await? {
        CatalogOutcome::Written => println!("{}: dataset {} updated", args.catalog, args.id),
        CatalogOutcome::Unchanged => println!(
            "{}: dataset {} already had these values",
            args.catalog, args.id
        ),
    }
    Ok(ExitCode::SUCCESS)
}

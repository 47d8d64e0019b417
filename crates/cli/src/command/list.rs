//! `vidpipe list`: every video in the output folder, newest first.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use vidpipe_domain::record::Stage;

/// Prints one line per video (id, status, title, each stage's state or the failure),
/// or the records as JSON.
pub fn run(out: &Path, json: bool) -> Result<ExitCode> {
    let (_, records) = super::open(out)?;
    let all = records.all()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("no videos in {}", out.display());
    }
    for r in &all {
        let detail = match &r.failure {
            Some(f) => format!("failed at {}: {}", f.stage, f.reason),
            None => Stage::ALL
                .iter()
                .map(|s| format!("{}={}", s.as_str(), r.stage(*s).as_str()))
                .collect::<Vec<_>>()
                .join(" "),
        };
        println!(
            "{}  {:<10}  {}  —  {}",
            r.id,
            r.status.as_str(),
            r.title(),
            detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

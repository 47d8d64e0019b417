//! `vidpipe show ID`: one video's record.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use vidpipe_domain::record::OutputKind;

/// Prints the record of the video whose id is or starts with `id` (at least 4
/// characters): each stage's state, each output's path, the failure; or the record as
/// JSON.
///
/// # Errors
/// No video, or several, with that id.
pub fn run(out: &Path, id: &str, json: bool) -> Result<ExitCode> {
    let (store, records) = super::open(out)?;
    let record = &super::find_one(&records, out, id)?;
    if json {
        println!("{}", serde_json::to_string_pretty(record)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "video {}: {} — {}",
        record.id,
        record.status.as_str(),
        record.title()
    );
    println!("  source  {}", record.source);
    for (stage, state) in &record.stages {
        let detail = state.detail.as_ref().map(|d| format!(" ({d})"));
        println!(
            "  {:<17} {}{}",
            stage.as_str(),
            state.status.as_str(),
            detail.unwrap_or_default()
        );
    }
    for o in record
        .outputs
        .iter()
        .filter(|o| o.kind != OutputKind::FrameCapture)
    {
        let kind = format!("{:?}", o.kind).to_lowercase();
        println!("  {kind:<12} {}", store.path_of(&o.key)?.display());
    }
    for d in &record.destinations {
        println!("  {:<20} {}", d.label(), d.describe());
        for note in &d.notes {
            println!("  {:<20} note: {note}", "");
        }
    }
    if let Some(f) = &record.failure {
        println!("  failed at {}: {}", f.stage, f.reason);
    }
    Ok(ExitCode::SUCCESS)
}

//! `vidpipe search "words"`: where the words are, among every video's title,
//! description, tags and transcript (the same hits as `GET /api/search`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use vidpipe_domain::time::hhmmss_mmm;

/// Prints one line per hit, best first: video id, where (the time the words were said,
/// or the field), title and the matching text; or the hits as JSON. Exit status 0
/// with hits, 1 without (as grep).
///
/// # Errors
/// The output folder or its database cannot be read.
pub fn run(out: &Path, words: &str, limit: usize, json: bool) -> Result<ExitCode> {
    let (store, records) = super::open(out)?;
    records.sync_search(&store)?;
    let hits = records.search(words, limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
    } else {
        for h in &hits {
            let at = match h.start_s {
                Some(t) => hhmmss_mmm(t),
                None => format!("{:?}", h.field).to_lowercase(),
            };
            println!("{}  {:<12}  {} — {}", h.video_id, at, h.title, h.text);
        }
        if hits.is_empty() {
            eprintln!("no video matches {words:?}");
        }
    }
    Ok(if hits.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

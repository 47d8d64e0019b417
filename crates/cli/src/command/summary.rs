//! The summary `vidpipe process` prints for a published video.

use anyhow::Result;
use vidpipe_domain::record::{OutputKind, Speech, Stage, VideoRecord};
use vidpipe_domain::time::hhmmss_mmm;
use vidpipe_local::LocalStore;

/// Prints where everything went: folder, report, outputs, cover, speech and promo,
/// tags, the clip and the plan's notes.
pub fn print(store: &LocalStore, record: &VideoRecord) -> Result<()> {
    let dir = store.video_dir(&record.id);
    println!(
        "video {}: {} — {}",
        record.id,
        record.status.as_str(),
        record.title()
    );
    println!("  folder  {}", dir.display());
    if let Some(link) = record.links.first() {
        println!("  report  {link}");
    }
    println!("  outputs {}", outputs_line(record));
    if let Some(cover) = &record.cover_key {
        let from = vidpipe_domain::cover::choose_cover(&record.frames).map(|i| &record.frames[i]);
        println!(
            "  cover   {}{}",
            store.path_of(cover)?.display(),
            from.map(|f| format!(" (frame at {:.1} s, score {:.3})", f.time_s, f.score))
                .unwrap_or_default()
        );
    }
    match &record.speech {
        Some(speech) => print_speech(store, record, speech)?,
        None => {
            if let Some(state) = record.stages.get(&Stage::TranscribeStart) {
                let detail = state.detail.as_ref().map(|d| format!(" ({d})"));
                println!(
                    "  speech  {}{}",
                    state.status.as_str(),
                    detail.unwrap_or_default()
                );
            }
        }
    }
    if !record.hashtags.is_empty() {
        println!("  tags    {}", record.hashtags.join(" "));
    }
    if let Some(plan) = &record.plan {
        println!(
            "  clip    {} → {}",
            hhmmss_mmm(plan.clip.start_s),
            hhmmss_mmm(plan.clip.end_s)
        );
        for note in &plan.notes {
            println!("  note    {note}");
        }
    }
    Ok(())
}

/// `MP4 720p, HLS 720p 480p 360p, MP3, GIF`: the progressive MP4's rung and the
/// HLS ladder's rungs (its audio rendition is not a rung).
fn outputs_line(record: &VideoRecord) -> String {
    let names = |kind| -> Vec<String> {
        record
            .outputs_of(kind)
            .filter_map(|o| o.name.clone())
            .filter(|n| n != vidpipe_domain::layout::AUDIO_RENDITION)
            .collect()
    };
    let mut parts = Vec::new();
    for (kind, label) in [
        (OutputKind::Rendition, "MP4"),
        (OutputKind::HlsVariant, "HLS"),
    ] {
        let rungs = names(kind);
        if !rungs.is_empty() {
            parts.push(format!("{label} {}", rungs.join(" ")));
        }
    }
    if parts.is_empty() {
        parts.push("no video renditions".to_string());
    }
    for (kind, name) in [(OutputKind::Mp3, "MP3"), (OutputKind::Gif, "GIF")] {
        if record.outputs_of(kind).next().is_some() {
            parts.push(name.to_string());
        }
    }
    parts.join(", ")
}

fn print_speech(store: &LocalStore, record: &VideoRecord, speech: &Speech) -> Result<()> {
    let json = store.path_of(&speech.transcript_key)?;
    let folder = json
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let unsure = if speech.low_confidence {
        " (low confidence: not English, or hard to hear)"
    } else {
        ""
    };
    println!(
        "  speech  {} words{unsure} — transcript, captions.srt and captions.vtt in {folder}",
        speech.word_count
    );
    let Some(promo) = &speech.promo else {
        return Ok(());
    };
    let parts: Vec<String> = promo
        .segments
        .iter()
        .map(|s| format!("{}–{}", hhmmss_mmm(s.start_s), hhmmss_mmm(s.end_s)))
        .collect();
    let clip = record
        .outputs_of(OutputKind::Promo)
        .next()
        .map(|o| store.path_of(&o.key))
        .transpose()?;
    let made = match clip {
        Some(path) => format!(" → {}", path.display()),
        None => {
            let why = record.promo_render.as_ref().and_then(|p| p.detail.clone());
            format!(" (not made: {})", why.unwrap_or_default())
        }
    };
    println!(
        "  promo   {:.1} s from {}{made}",
        promo.duration_s(),
        parts.join(", ")
    );
    Ok(())
}

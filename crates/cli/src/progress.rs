//! The transcode's progress: a bar on a terminal, a log line every 10 % elsewhere.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use vidpipe_local::{Progress, ProgressSink};

/// The sink the transcoder reports to, and the bar to clear at the end (terminal).
pub fn progress_sink(interactive: bool) -> (ProgressSink, Option<ProgressBar>) {
    if interactive {
        let bar = ProgressBar::new(1000);
        bar.set_style(
            ProgressStyle::with_template("transcode {bar:40} {percent:>3}% {msg} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let b = bar.clone();
        let sink: ProgressSink = Arc::new(move |p: Progress| {
            b.set_position((p.done_s / p.total_s.max(1e-9) * 1000.0) as u64);
            b.set_message(format!("{:.1}/{:.1} s", p.done_s, p.total_s));
        });
        (sink, Some(bar))
    } else {
        let last_decile = AtomicU64::new(0);
        let sink: ProgressSink = Arc::new(move |p: Progress| {
            let decile = (p.done_s / p.total_s.max(1e-9) * 10.0).floor() as u64;
            if decile > last_decile.load(Ordering::Relaxed) {
                last_decile.store(decile, Ordering::Relaxed);
                tracing::info!(
                    "transcode {}% ({:.1}/{:.1} s)",
                    decile * 10,
                    p.done_s,
                    p.total_s
                );
            }
        });
        (sink, None)
    }
}

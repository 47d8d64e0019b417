//! Transcribes an audio file and prints the text and timings; for measuring.
//! Usage: cargo run --release -p vidpipe-whisper --example transcribe -- AUDIO [int8|float32|int8_float32] [beam]
//! Environment: THREADS (CTranslate2 threads, default 2), WINDOW_S, NO_VAD, SEGMENTS.
//! Prints one JSON object: compute type, load and transcription seconds, audio
//! seconds, the text, and the words as `[text, start_s, end_s]`.
fn main() {
    vidpipe_whisper::set_ctranslate2_defaults();
    let args: Vec<String> = std::env::args().collect();
    let compute = match args.get(2).map(String::as_str) {
        Some("float32") => vidpipe_whisper::ComputeType::FLOAT32,
        Some("int8_float32") => vidpipe_whisper::ComputeType::INT8_FLOAT32,
        _ => vidpipe_whisper::ComputeType::INT8,
    };
    let dir = vidpipe_whisper::find_model(None).unwrap();
    let t0 = std::time::Instant::now();
    let threads = std::env::var("THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let model = vidpipe_whisper::WhisperModel::load(&dir, threads, compute).unwrap();
    let load_s = t0.elapsed().as_secs_f64();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let samples = rt
        .block_on(vidpipe_whisper::decode_audio(std::path::Path::new(
            &args[1],
        )))
        .unwrap();
    let mut options = vidpipe_whisper::DecodeOptions::default();
    if let Some(w) = std::env::var("WINDOW_S").ok().and_then(|w| w.parse().ok()) {
        options.max_window_s = w;
    }
    if let Some(beam) = args.get(3) {
        options.beam_size = beam.parse().unwrap();
    }
    let t1 = std::time::Instant::now();
    let segments = if std::env::var_os("NO_VAD").is_some() {
        let whole = [vidpipe_whisper::vad::Span {
            start: 0,
            end: samples.len().min(30 * 16000),
        }];
        model
            .transcribe(&samples, &whole, &whole, &options)
            .unwrap()
    } else {
        vidpipe_whisper::transcribe_samples(&model, &samples, &options).unwrap()
    };
    let run_s = t1.elapsed().as_secs_f64();
    if std::env::var_os("SEGMENTS").is_some() {
        let regions = vidpipe_whisper::vad::speech_regions(&samples, 16000);
        let windows = vidpipe_whisper::vad::chunks(&samples, &regions, 16000, 30 * 16000);
        for w in &windows {
            eprintln!(
                "window {:.2}-{:.2}",
                w.start as f64 / 16000.0,
                w.end as f64 / 16000.0
            );
        }
        for s in &segments {
            eprintln!(
                "{:7.2} {:7.2} {:6.3} t={} {}",
                s.start_s, s.end_s, s.avg_logprob, s.temperature, s.text
            );
        }
    }
    let transcript = vidpipe_whisper::transcript_from_segments("x", &segments);
    let text = transcript.text();
    let words: Vec<String> = transcript
        .words()
        .map(|w| {
            format!(
                "[{:?},{:.3},{:.3}]",
                w.content,
                w.start_s.unwrap_or(0.0),
                w.end_s.unwrap_or(0.0)
            )
        })
        .collect();
    let audio_s = samples.len() as f64 / vidpipe_whisper::SAMPLE_RATE as f64;
    println!("{{\"compute\":\"{}\",\"load_s\":{load_s:.3},\"transcribe_s\":{run_s:.3},\"audio_s\":{audio_s:.3},\"text\":{:?},\"words\":[{}]}}", model.compute_type, text, words.join(","));
}

//! Writes the log-mel features of the first 30 s of an audio file as raw f32
//! (80 × 3000, row-major), for comparing with a reference extractor.
//! Usage: cargo run -p vidpipe-whisper --example dump_features -- IN OUT
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = (&args[1], &args[2]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let samples = rt
        .block_on(vidpipe_whisper::decode_audio(std::path::Path::new(input)))
        .unwrap();
    let fx = vidpipe_whisper::features::FeatureExtractor::new(
        vidpipe_whisper::features::PreprocessorConfig::standard(),
    );
    let feats = fx.log_mel(&samples);
    let bytes: Vec<u8> = feats.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(output, bytes).unwrap();
}

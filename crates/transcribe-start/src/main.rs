//! The transcribe-start function: `media/<id>/audio.mp3` created (S3 → SQS). Starts
//! the Amazon Transcribe job for the video, once.

use lambda_runtime::Error;
use vidpipe_aws::transcribe::{Client, TranscribeTranscriber};
use vidpipe_aws::{CloudAdapters, Stage};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = CloudAdapters::from_env().await?;
    let transcriber = TranscribeTranscriber {
        client: Client::new(&f.clients.sdk),
        bucket: f.store.bucket.clone(),
        language_code: f.config.language_code.clone(),
    };
    let adapters = f.adapters().with_transcriber(Some(&transcriber));
    f.serve(Stage::TranscribeStart, adapters).await
}

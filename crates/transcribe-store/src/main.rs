//! The transcribe-store function: `transcripts/<id>/transcript.json` created (S3 →
//! SQS). Parses Amazon Transcribe's output, derives keywords, summary and the promo
//! plan, and records them (the domain's transcribe-store stage).

use lambda_runtime::Error;
use vidpipe_aws::{CloudAdapters, Stage};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = CloudAdapters::from_env().await?;
    f.serve(Stage::TranscribeStore, f.adapters()).await
}

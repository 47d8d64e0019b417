//! The transcode function: transcode and promo requests (SQS), and MediaConvert job
//! state changes (EventBridge → SQS). Submits MediaConvert jobs built from the plan
//! and records how they end (the domain's transcode stage).

use lambda_runtime::Error;
use vidpipe_aws::mediaconvert::{Client, MediaConvertTranscoder};
use vidpipe_aws::{CloudAdapters, FunctionConfig, Stage};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = CloudAdapters::from_env().await?;
    let role_arn = FunctionConfig::require(
        &f.config.mediaconvert_role_arn,
        "VIDPIPE_MEDIACONVERT_ROLE_ARN",
    )?;
    let transcoder = MediaConvertTranscoder {
        client: Client::new(&f.clients.sdk),
        role_arn: role_arn.to_string(),
        store: &f.store,
    };
    f.serve(Stage::Transcode, f.adapters().with_transcoder(&transcoder))
        .await
}

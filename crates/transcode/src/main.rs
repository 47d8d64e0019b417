//! The transcode function: transcode and promo requests (SQS), and MediaConvert job
//! state changes (EventBridge → SQS). Submits MediaConvert jobs built from the plan
//! and records how they end. See `vidpipe_aws::handlers::transcode`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use vidpipe_aws::mediaconvert::MediaConvertTranscoder;
use vidpipe_aws::{handlers, Function, FunctionConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = Function::from_env().await?;
    let bus = f.bus();
    let transcoder = MediaConvertTranscoder {
        client: aws_sdk_mediaconvert_client(&f),
        role_arn: FunctionConfig::require(
            &f.config.mediaconvert_role_arn,
            "VIDPIPE_MEDIACONVERT_ROLE_ARN",
        )?
        .to_string(),
        store: &f.store,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(
            handlers::transcode(
                &f.store,
                &f.records,
                &transcoder,
                &bus,
                &f.notifier,
                event.payload,
            )
            .await,
        )
    }))
    .await
}

fn aws_sdk_mediaconvert_client(f: &Function) -> vidpipe_aws::mediaconvert::Client {
    vidpipe_aws::mediaconvert::Client::new(&f.clients.sdk)
}

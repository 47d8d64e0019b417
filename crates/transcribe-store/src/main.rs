//! The transcribe-store function: `transcripts/<id>/transcript.json` created (S3 →
//! SQS). Parses Amazon Transcribe's output, derives keywords, summary and the promo
//! plan, and records them. See `vidpipe_aws::handlers::transcribe_store`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use vidpipe_aws::{handlers, Function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = Function::from_env().await?;
    let bus = f.bus();
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(
            handlers::transcribe_store(
                &f.store,
                &f.records,
                &bus,
                &f.notifier,
                &f.config.pipeline,
                event.payload,
            )
            .await,
        )
    }))
    .await
}

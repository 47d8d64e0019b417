//! The ingest function: S3 "object created" notifications for `uploads/`, through
//! SQS. Probes the upload, reads its sidecar, records the video once and asks for the
//! transcode. See `vidpipe_aws::handlers::ingest`.

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
            handlers::ingest(
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

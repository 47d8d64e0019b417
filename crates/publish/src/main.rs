//! The publish function: "part recorded" messages (SQS). Once transcode, transcript
//! and cover are settled, publishes exactly once, emails the speakers and notifies.
//! See `vidpipe_aws::handlers::publish`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use vidpipe_aws::notify::LinksPublisher;
use vidpipe_aws::{handlers, Function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = Function::from_env().await?;
    let publisher = LinksPublisher {
        store: &f.store,
        expiry: f.config.link_expiry,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(
            handlers::publish(
                &f.store,
                &f.records,
                &publisher,
                &f.notifier,
                &f.config.pipeline,
                event.payload,
            )
            .await,
        )
    }))
    .await
}

//! The transcribe-start function: `media/<id>/audio.mp3` created (S3 → SQS). Starts
//! the Amazon Transcribe job named after the video, once. See
//! `vidpipe_aws::handlers::transcribe_start`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use vidpipe_aws::transcribe::TranscribeTranscriber;
use vidpipe_aws::{handlers, Function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = Function::from_env().await?;
    let transcriber = TranscribeTranscriber {
        client: vidpipe_aws::transcribe::Client::new(&f.clients.sdk),
        bucket: f.store.bucket.clone(),
        language_code: f.config.language_code.clone(),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(
            handlers::transcribe_start(
                &f.store,
                &f.records,
                &transcriber,
                &f.notifier,
                event.payload,
            )
            .await,
        )
    }))
    .await
}

//! The rekognition function: frame captures created (S3 → SQS). Scores the captures
//! with DetectLabels, DetectFaces and the image measures, and copies the best to
//! `media/<id>/cover.jpg`. See `vidpipe_aws::handlers::rekognition`.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use vidpipe_aws::rekognition::RekognitionAnalyzer;
use vidpipe_aws::{handlers, Function};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = Function::from_env().await?;
    let bus = f.bus();
    let client = vidpipe_aws::rekognition::Client::new(&f.clients.sdk);
    let analyzer = RekognitionAnalyzer {
        store: &f.store,
        labels: client.clone(),
        faces: client,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(
            handlers::rekognition(
                &f.store,
                &f.records,
                &analyzer,
                &bus,
                &f.notifier,
                event.payload,
            )
            .await,
        )
    }))
    .await
}

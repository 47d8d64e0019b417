//! The rekognition function: frame captures created (S3 → SQS). The cloud adapter of
//! the domain's cover stage: scores the captures with DetectLabels, DetectFaces and
//! the image measures, and copies the best to `media/<id>/cover.jpg`.

use lambda_runtime::Error;
use vidpipe_aws::rekognition::{Client, RekognitionAnalyzer};
use vidpipe_aws::{CloudAdapters, Stage};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = CloudAdapters::from_env().await?;
    let client = Client::new(&f.clients.sdk);
    let analyzer = RekognitionAnalyzer {
        store: &f.store,
        labels: client.clone(),
        faces: client,
    };
    f.serve(Stage::Cover, f.adapters().with_analyzer(&analyzer))
        .await
}

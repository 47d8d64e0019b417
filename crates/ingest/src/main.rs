//! The ingest function: S3 "object created" notifications for `uploads/`, through
//! SQS. Probes the upload, reads its sidecar, records the video once and asks for the
//! transcode (the domain's ingest stage).

use lambda_runtime::Error;
use vidpipe_aws::probe::S3Prober;
use vidpipe_aws::{CloudAdapters, Stage};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = CloudAdapters::from_env().await?;
    let prober = S3Prober { store: &f.store };
    f.serve(Stage::Ingest, f.adapters().with_prober(&prober))
        .await
}

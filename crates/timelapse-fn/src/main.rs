//! The time-lapse function: invoked by EventBridge Scheduler, one schedule per
//! dataset, with the dataset's job as the event (or `{"config_key": KEY}` naming a
//! job object in the bucket). Syncs the frames from FTP into the bucket, streams the
//! period's movie as a Y4M mezzanine into `uploads/` for ingest and MediaConvert, and
//! writes the run report (`vidpipe_aws::timelapse`).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vidpipe_aws::config::{Clients, FunctionConfig};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = FunctionConfig::from_env()?;
    let bucket = FunctionConfig::require(&config.bucket, "VIDPIPE_BUCKET")?.to_string();
    let clients = Clients::from_env(&config).await;
    let (clients, bucket) = (&clients, bucket.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        vidpipe_aws::timelapse::handle_event(clients, bucket, event.payload)
            .await
            .map_err(Error::from)
    }))
    .await
}

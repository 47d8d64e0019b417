//! The reconcile function: invoked by an EventBridge schedule (every 15 minutes; the
//! event's content is not read). Drives again the work of processing videos whose
//! message was lost or whose invocation died, and fails, with a notice, videos that
//! made no progress past the deadline (`vidpipe_aws::reconcile`).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use vidpipe_aws::CloudAdapters;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let f = CloudAdapters::from_env().await?;
    let f = &f;
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        vidpipe_aws::reconcile::run(f).await.map_err(Error::from)
    }))
    .await
}

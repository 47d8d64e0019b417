//! The publish function: "part recorded" messages (SQS). Once every part of a video
//! is settled, publishes it exactly once: links, the platforms (YouTube, Vimeo, a
//! Facebook Page: uploads resumed from their recorded offsets, handed over to the
//! next invocation near the timeout), the SNS notice, the speakers' emails.

use lambda_runtime::Error;
use vidpipe_aws::notify::LinksPublisher;
use vidpipe_aws::{CloudAdapters, Stage};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let mut f = CloudAdapters::from_env().await?;
    f.read_platform_credentials().await?;
    let publisher = LinksPublisher {
        store: &f.store,
        expiry: f.config.link_expiry,
        base_url: f.config.media_base_url.clone(),
    };
    f.serve(Stage::Publish, f.adapters().with_publisher(&publisher))
        .await
}

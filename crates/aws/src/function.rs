//! What every function builds once per cold start: its settings, the SDK
//! configuration, the bucket, the record table and the notifier (every stage can fail
//! a video, and a failure is recorded and notified).

use crate::bus::SqsBus;
use crate::config::{Clients, ConfigError, FunctionConfig};
use crate::notify::CloudNotifier;
use crate::records::DynamoRecords;
use crate::s3::S3Store;

pub struct Function {
    pub config: FunctionConfig,
    pub clients: Clients,
    pub store: S3Store,
    pub records: DynamoRecords,
    pub notifier: CloudNotifier,
}

impl Function {
    /// From the environment the template sets.
    ///
    /// # Errors
    /// [`ConfigError`] naming a missing or bad setting.
    pub async fn from_env() -> Result<Function, ConfigError> {
        let config = FunctionConfig::from_env()?;
        let clients = Clients::from_env(&config).await;
        Function::new(config, clients)
    }

    pub fn new(config: FunctionConfig, clients: Clients) -> Result<Function, ConfigError> {
        let bucket = FunctionConfig::require(&config.bucket, "VIDPIPE_BUCKET")?.to_string();
        let table = FunctionConfig::require(&config.table, "VIDPIPE_TABLE")?.to_string();
        let topic = FunctionConfig::require(&config.topic_arn, "VIDPIPE_TOPIC_ARN")?.to_string();
        let sdk = &clients.sdk;
        Ok(Function {
            store: S3Store::new(clients.s3.clone(), bucket),
            records: DynamoRecords::new(aws_sdk_dynamodb::Client::new(sdk), table),
            notifier: CloudNotifier {
                sns: aws_sdk_sns::Client::new(sdk),
                topic_arn: topic,
                ses: aws_sdk_sesv2::Client::new(sdk),
                sender_email: config.sender_email.clone(),
            },
            clients,
            config,
        })
    }

    /// The queues this function sends to.
    pub fn bus(&self) -> SqsBus {
        SqsBus {
            client: aws_sdk_sqs::Client::new(&self.clients.sdk),
            transcode_queue_url: self.config.transcode_queue_url.clone(),
            publish_queue_url: self.config.publish_queue_url.clone(),
        }
    }
}

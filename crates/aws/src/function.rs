//! The adapters every function owns, built once per cold start: its settings, the
//! SDK clients, the bucket, the record table, the notifier (every stage can fail a
//! video, and a failure is recorded and notified) and the queues it sends to. A
//! function lends them to the domain's dispatcher as
//! [`vidpipe_domain::dispatch::Adapters`], adding the ports of its own stage.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use vidpipe_domain::dispatch::{Adapters, Dispatch, Unwired};
use vidpipe_domain::record::Stage;

use crate::bus::SqsBus;
use crate::config::{Clients, ConfigError, FunctionConfig};
use crate::deliveries::{CloudTalkSheet, Deliveries, SesMailer};
use crate::handlers::Around;
use crate::notify::CloudNotifier;
use crate::records::DynamoRecords;
use crate::requeue::Requeue;
use crate::s3::S3Store;

pub struct CloudAdapters {
    pub config: FunctionConfig,
    pub clients: Clients,
    pub store: S3Store,
    pub records: DynamoRecords,
    pub notifier: CloudNotifier,
    /// The queues this function sends to.
    pub bus: SqsBus,
    /// The talk sheet and the outbox's senders (ingest and publish use them).
    pub deliveries: Deliveries,
    /// The platforms videos are published to (the publish function's; see
    /// [`CloudAdapters::read_platform_credentials`]).
    pub platforms: Option<crate::platforms::CloudPlatforms>,
}

/// The domain's adapters with what every function has and no stage's own port.
pub type BaseAdapters<'a> = Adapters<
    'a,
    S3Store,
    Unwired,
    DynamoRecords,
    Unwired,
    Unwired,
    Unwired,
    CloudNotifier,
    Unwired,
>;

impl CloudAdapters {
    /// From the environment the template sets.
    ///
    /// # Errors
    /// [`ConfigError`] naming a missing or bad setting.
    pub async fn from_env() -> Result<CloudAdapters, ConfigError> {
        let config = FunctionConfig::from_env()?;
        let clients = Clients::from_env(&config).await;
        let mut f = CloudAdapters::new(config, clients)?;
        f.read_talk_sheet().await?;
        Ok(f)
    }

    /// Reads the talk sheet's service account key from Secrets Manager, when the
    /// template names a sheet (ingest and publish).
    ///
    /// # Errors
    /// [`ConfigError`] as [`CloudTalkSheet::from_config`].
    pub async fn read_talk_sheet(&mut self) -> Result<(), ConfigError> {
        let secrets = aws_sdk_secretsmanager::Client::new(&self.clients.sdk);
        self.deliveries.sheet = CloudTalkSheet::from_config(&self.config, &secrets).await?;
        Ok(())
    }

    /// # Errors
    /// [`ConfigError::Missing`] for `VIDPIPE_BUCKET`, `VIDPIPE_TABLE` or
    /// `VIDPIPE_TOPIC_ARN`.
    pub fn new(config: FunctionConfig, clients: Clients) -> Result<CloudAdapters, ConfigError> {
        let bucket = FunctionConfig::require(&config.bucket, "VIDPIPE_BUCKET")?.to_string();
        let table = FunctionConfig::require(&config.table, "VIDPIPE_TABLE")?.to_string();
        let topic = FunctionConfig::require(&config.topic_arn, "VIDPIPE_TOPIC_ARN")?.to_string();
        let sdk = &clients.sdk;
        Ok(CloudAdapters {
            store: S3Store::new(clients.s3.clone(), bucket),
            records: DynamoRecords::new(aws_sdk_dynamodb::Client::new(sdk), table),
            notifier: CloudNotifier {
                sns: aws_sdk_sns::Client::new(sdk),
                topic_arn: topic,
                organiser_mail: config
                    .sender_email
                    .clone()
                    .zip(config.organiser_email.clone())
                    .map(|(sender, organiser)| {
                        let ses = aws_sdk_sesv2::Client::new(sdk);
                        (SesMailer { ses, sender }, organiser)
                    }),
            },
            deliveries: Deliveries {
                mailer: config.sender_email.clone().map(|sender| SesMailer {
                    ses: aws_sdk_sesv2::Client::new(sdk),
                    sender,
                }),
                organiser: config.organiser_email.clone(),
                sheet: None,
                s3: Some(clients.s3.clone()),
            },
            bus: SqsBus {
                client: aws_sdk_sqs::Client::new(sdk),
                transcode_queue_url: config.transcode_queue_url.clone(),
                publish_queue_url: config.publish_queue_url.clone(),
                cover_queue_url: config.cover_queue_url.clone(),
            },
            platforms: None,
            clients,
            config,
        })
    }

    /// Reads each platform's credentials from its secret (the publish function, once
    /// per cold start) and readies the platforms.
    ///
    /// # Errors
    /// [`ConfigError`] as [`crate::platforms::read_credentials`].
    pub async fn read_platform_credentials(&mut self) -> Result<(), ConfigError> {
        let secrets = aws_sdk_secretsmanager::Client::new(&self.clients.sdk);
        let credentials = crate::platforms::read_credentials(&self.config, &secrets).await?;
        self.platforms = Some(crate::platforms::platforms(
            &self.config,
            &self.store,
            credentials,
        ));
        Ok(())
    }

    /// Store, records and notifier as the domain's [`Adapters`]; the function adds its
    /// own port with `with_prober`, `with_transcoder`, ….
    pub fn adapters(&self) -> BaseAdapters<'_> {
        Adapters::new(&self.store, &self.records, &self.notifier)
    }

    /// What the handler does around the stage: [`Around`].
    pub fn around(&self) -> Around<'_> {
        Around {
            deliveries: &self.deliveries,
            records: &self.records,
            notifier: &self.notifier,
            platforms: self.platforms.as_ref(),
            stop_at: None,
            sdk: &self.clients.sdk,
            requeue: self
                .config
                .own_queue_url
                .as_deref()
                .map(|queue_url| Requeue {
                    sqs: &self.bus.client,
                    queue_url,
                    base_delay_s: self.config.throttle_delay_s,
                }),
        }
    }

    /// Serves the Lambda runtime API until the runtime stops: each invocation's SQS
    /// batch goes through [`crate::handlers::handle`] for `stage`, with `adapters`
    /// (this function's [`CloudAdapters::adapters`] and its own port).
    ///
    /// # Errors
    /// The runtime's, when it cannot reach the Lambda runtime API.
    pub async fn serve<D: Dispatch<Store = S3Store>>(
        &self,
        stage: Stage,
        adapters: D,
    ) -> Result<(), lambda_runtime::Error> {
        let (adapters, bus, config, around) =
            (&adapters, &self.bus, &self.config.pipeline, self.around());
        lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
            let around = Around {
                stop_at: stop_at(event.context.deadline),
                ..around
            };
            Ok::<_, lambda_runtime::Error>(
                crate::handlers::handle(stage, adapters, bus, config, around, event.payload).await,
            )
        }))
        .await
    }
}

/// How long before the invocation's deadline an upload stops, records its offset and
/// hands over: time to write the record and send the message.
pub const HANDOVER_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

/// When this invocation stops uploading: [`HANDOVER_MARGIN`] before `deadline_ms`
/// (the runtime's `Lambda-Runtime-Deadline-Ms`, Unix milliseconds).
fn stop_at(deadline_ms: u64) -> Option<std::time::Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let left = std::time::Duration::from_millis(deadline_ms.checked_sub(now_ms)?);
    Some(std::time::Instant::now() + left.saturating_sub(HANDOVER_MARGIN))
}

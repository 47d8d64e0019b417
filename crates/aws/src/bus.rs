//! Pipeline messages on SQS. Where a message goes is [`vidpipe_domain::events::route`]:
//! transcode requests, promo requests and job state changes to the transcode queue,
//! cover requests to the cover stage's (`rekognition`), "part recorded" to the
//! publish queue.

use vidpipe_domain::events::{route, PipelineEvent, PipelineMessage};
use vidpipe_domain::ports::MessageBus;
use vidpipe_domain::record::Stage;
use vidpipe_domain::PortError;

use crate::error::port_error;

#[derive(Clone, Debug)]
pub struct SqsBus {
    pub client: aws_sdk_sqs::Client,
    pub transcode_queue_url: Option<String>,
    pub publish_queue_url: Option<String>,
    pub cover_queue_url: Option<String>,
}

impl SqsBus {
    /// The queue a message goes to.
    ///
    /// # Errors
    /// [`PortError::Failed`] when this function was not given that queue's URL (the
    /// template gives each function the queues it sends to).
    pub fn queue_for(&self, message: &PipelineMessage) -> Result<&str, PortError> {
        let stage = route(&PipelineEvent::Message(message.clone()));
        let url = match stage {
            Some(Stage::Transcode) => self.transcode_queue_url.as_deref(),
            Some(Stage::Publish) => self.publish_queue_url.as_deref(),
            Some(Stage::Cover) => self.cover_queue_url.as_deref(),
            _ => None,
        };
        url.ok_or_else(|| {
            PortError::Failed(format!(
                "no queue configured for {} messages (stage {})",
                serde_json::to_value(message)
                    .ok()
                    .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(String::from))
                    .unwrap_or_default(),
                stage.map_or("none", Stage::as_str)
            ))
        })
    }
}

impl MessageBus for SqsBus {
    async fn send(&self, message: PipelineMessage) -> Result<(), PortError> {
        let url = self.queue_for(&message)?;
        let body = serde_json::to_string(&message)
            .map_err(|e| PortError::Failed(format!("message to JSON: {e}")))?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| port_error(&format!("sqs SendMessage to {url}"), e))?;
        Ok(())
    }
}

//! Throttled records go back on their queue with a delay, as new messages: the chain
//! slows down under the services' quotas and never fails a video for them.
//!
//! Reporting a throttled record as a batch item failure would not do: SQS counts
//! every receive, and after the queue's `maxReceiveCount` (5) it moves the message to
//! the dead-letter queue however the failures came about (Amazon SQS Developer Guide,
//! "Using dead-letter queues"). A copy sent with `DelaySeconds` starts its count
//! afresh, and carries how often it was deferred in a message attribute, so that
//! each deferral waits twice as long as the one before, up to SQS's 900-second limit
//! on `DelaySeconds` (Amazon SQS API Reference, SendMessage).

use aws_lambda_events::event::sqs::SqsMessage;
use aws_sdk_sqs::types::MessageAttributeValue;

use crate::error::port_error;

/// The message attribute that counts a message's deferrals.
pub const DEFERRALS_ATTRIBUTE: &str = "vidpipe-deferrals";
/// SQS's longest `DelaySeconds`.
pub const MAX_DELAY_S: u32 = 900;

/// Where and how a function puts a throttled record back.
#[derive(Clone, Copy, Debug)]
pub struct Requeue<'a> {
    pub sqs: &'a aws_sdk_sqs::Client,
    /// The function's own queue (`VIDPIPE_QUEUE_URL`).
    pub queue_url: &'a str,
    /// The first deferral's delay, seconds (`VIDPIPE_THROTTLE_DELAY_S`, default 30).
    pub base_delay_s: u32,
}

/// How often `message` was deferred before (0 for a first delivery).
pub fn deferrals(message: &SqsMessage) -> u32 {
    message
        .message_attributes
        .get(DEFERRALS_ATTRIBUTE)
        .and_then(|a| a.string_value.as_deref())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Requeue<'_> {
    /// The delay of deferral number `n` (1-based), seconds: the base doubled for each
    /// earlier deferral, at most [`MAX_DELAY_S`], plus up to a quarter more taken from
    /// `spread` (the message id), so that messages throttled together come back apart.
    pub fn delay_s(&self, n: u32, spread: &str) -> u32 {
        let doubled = self
            .base_delay_s
            .saturating_mul(1u32 << n.saturating_sub(1).min(16));
        let base = doubled.min(MAX_DELAY_S);
        let hash = spread
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        (base + hash % (base / 4 + 1)).min(MAX_DELAY_S)
    }

    /// Sends a copy of `message` (same body, one more deferral) with its delay: the
    /// delay, seconds.
    ///
    /// # Errors
    /// The SQS error, as text: the record is then delivered again the usual way.
    pub async fn defer(&self, message: &SqsMessage) -> Result<u32, String> {
        let n = deferrals(message) + 1;
        let delay = self.delay_s(n, message.message_id.as_deref().unwrap_or(""));
        let count = MessageAttributeValue::builder()
            .data_type("Number")
            .string_value(n.to_string())
            .build()
            .map_err(|e| e.to_string())?;
        self.sqs
            .send_message()
            .queue_url(self.queue_url)
            .message_body(message.body.clone().unwrap_or_default())
            .delay_seconds(delay as i32)
            .message_attributes(DEFERRALS_ATTRIBUTE, count)
            .send()
            .await
            .map_err(|e| port_error(&format!("sqs SendMessage to {}", self.queue_url), e))
            .map_err(|e| e.to_string())?;
        Ok(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_deferral_waits_twice_as_long_up_to_sqs_limit() {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .build();
        let sqs = aws_sdk_sqs::Client::from_conf(config);
        let requeue = Requeue {
            sqs: &sqs,
            queue_url: "q",
            base_delay_s: 30,
        };
        let delays: Vec<u32> = (1..=8).map(|n| requeue.delay_s(n, "")).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 900, 900, 900]);
        for n in 1..=8 {
            let spread = requeue.delay_s(n, "message-17");
            let base = delays[n as usize - 1];
            assert!(spread >= base && spread <= (base + base / 4).min(MAX_DELAY_S));
        }
        let mut message = SqsMessage::default();
        assert_eq!(deferrals(&message), 0);
        let mut attribute = aws_lambda_events::event::sqs::SqsMessageAttribute::default();
        attribute.string_value = Some("3".into());
        message
            .message_attributes
            .insert(DEFERRALS_ATTRIBUTE.into(), attribute);
        assert_eq!(deferrals(&message), 3);
    }
}

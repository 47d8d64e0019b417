//! What arrives on the functions' queues, as domain events.
//!
//! An SQS body is one of: an S3 event notification (`Records[].s3`), S3's
//! `s3:TestEvent` (sent once when a notification is configured; it has no records), a
//! MediaConvert "Job State Change" forwarded by EventBridge, or a
//! [`PipelineMessage`] one stage sent another.

use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;
use vidpipe_domain::events::{ObjectCreated, PipelineMessage};

/// A queue body that cannot become an event. Retrying does not help; the record is
/// reported as failed so that it reaches the dead-letter queue.
#[derive(Debug, Error, PartialEq)]
pub enum BodyError {
    #[error("message {message_id}: body is not JSON: {reason}")]
    NotJson { message_id: String, reason: String },
    #[error("message {message_id}: {reason}")]
    Unrecognised { message_id: String, reason: String },
}

/// One queue record, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Objects created (an S3 notification may carry several records).
    Objects(Vec<ObjectCreated>),
    /// S3's test event, or object events other than creation: nothing to do.
    Ignored(String),
    /// A MediaConvert job state change (EventBridge's event, whole).
    JobState(Value),
    /// An Amazon Transcribe job state change (EventBridge's event, whole).
    TranscriptionState(Value),
    Message(PipelineMessage),
}

/// The part of an S3 event notification ingest reads ("Event message structure", Amazon
/// S3 User Guide). `aws_lambda_events`' `S3Event` would also require `eventTime` with a
/// time zone, which moto leaves out; nothing here reads the time, so a notification
/// is not refused over it.
#[derive(Debug, Deserialize)]
struct S3Notification {
    #[serde(rename = "Records")]
    records: Vec<S3NotificationRecord>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3NotificationRecord {
    #[serde(default)]
    event_name: String,
    s3: S3Entity,
}

#[derive(Debug, Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Debug, Deserialize)]
struct S3Bucket {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    key: Option<String>,
    #[serde(default)]
    size: u64,
    #[serde(default, rename = "eTag")]
    e_tag: Option<String>,
    #[serde(default)]
    version_id: Option<String>,
}

/// Decodes an S3 event key: S3 sends keys URL-encoded as in an HTML form, spaces as
/// `+` and everything else percent-encoded (AWS docs, "Event message structure":
/// "The s3 key provides information about the bucket and object involved in the
/// event. The object key name value is URL encoded."). So `+` is a space and a real
/// plus arrives as `%2B`.
///
/// # Errors
/// The reason, when the decoded bytes are not UTF-8.
pub fn decode_s3_key(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|e| format!("key '{raw}' does not decode to UTF-8: {e}"))
}

/// Reads one SQS body.
pub fn read_body(message_id: &str, body: &str) -> Result<Body, BodyError> {
    let value: Value = serde_json::from_str(body).map_err(|e| BodyError::NotJson {
        message_id: message_id.to_string(),
        reason: e.to_string(),
    })?;
    let unrecognised = |reason: String| BodyError::Unrecognised {
        message_id: message_id.to_string(),
        reason,
    };
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Body::Ignored("s3:TestEvent".into()));
    }
    if value.get("Records").is_some() {
        let event: S3Notification = serde_json::from_value(value)
            .map_err(|e| unrecognised(format!("not an S3 event notification: {e}")))?;
        let mut objects = Vec::new();
        for record in event.records {
            if !record.event_name.starts_with("ObjectCreated:") {
                continue;
            }
            let bucket = record.s3.bucket.name;
            let raw_key = record
                .s3
                .object
                .key
                .ok_or_else(|| unrecognised("S3 record without an object key".into()))?;
            objects.push(ObjectCreated {
                bucket,
                key: decode_s3_key(&raw_key).map_err(unrecognised)?,
                size_bytes: record.s3.object.size,
                etag: record
                    .s3
                    .object
                    .e_tag
                    .map(|e| e.trim_matches('"').to_string()),
                version_id: record.s3.object.version_id,
            });
        }
        return Ok(if objects.is_empty() {
            Body::Ignored("no object-created records".into())
        } else {
            Body::Objects(objects)
        });
    }
    if value.get("source").and_then(Value::as_str) == Some("aws.transcribe") {
        return Ok(Body::TranscriptionState(value));
    }
    if value.get("source").and_then(Value::as_str) == Some("aws.mediaconvert") {
        return Ok(Body::JobState(value));
    }
    if value.get("type").is_some() {
        return serde_json::from_value(value)
            .map(Body::Message)
            .map_err(|e| unrecognised(format!("not a pipeline message: {e}")));
    }
    Err(unrecognised(
        "neither an S3 notification, a MediaConvert event nor a pipeline message".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_encoded_keys() {
        let cases = [
            (
                "uploads/Right+metrics+and+wrong+metrics%3A+Is+there+such+a+thing4%3F.mp4",
                "uploads/Right metrics and wrong metrics: Is there such a thing4?.mp4",
            ),
            ("uploads/a%2Bb.mp4", "uploads/a+b.mp4"),
            ("uploads%2Ftalk.mp4", "uploads/talk.mp4"),
            (
                "uploads/caf%C3%A9+%E2%80%94+talk.mov",
                "uploads/café — talk.mov",
            ),
            ("uploads/100%25.mp4", "uploads/100%.mp4"),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_s3_key(raw).unwrap(), want, "{raw}");
        }
        assert!(decode_s3_key("uploads/%FF.mp4")
            .unwrap_err()
            .contains("UTF-8"));
    }

    #[test]
    fn reads_every_kind_of_body() {
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00.000Z","Bucket":"b","RequestId":"r","HostId":"h"}"#;
        assert!(matches!(read_body("m", test_event), Ok(Body::Ignored(_))));
        let message = r#"{"type":"transcode-requested","video_id":"0123456789abcdef"}"#;
        assert!(matches!(
            read_body("m", message),
            Ok(Body::Message(PipelineMessage::TranscodeRequested { .. }))
        ));
        let mc = r#"{"source":"aws.mediaconvert","detail-type":"MediaConvert Job State Change","detail":{}}"#;
        assert!(matches!(read_body("m", mc), Ok(Body::JobState(_))));
        let err = read_body("m1", "{not json").unwrap_err();
        assert!(
            err.to_string().starts_with("message m1: body is not JSON"),
            "{err}"
        );
        let err = read_body("m2", r#"{"hello":1}"#).unwrap_err();
        assert!(err.to_string().contains("neither"), "{err}");
        let err = read_body("m3", r#"{"type":"launch-rocket"}"#).unwrap_err();
        assert!(err.to_string().contains("not a pipeline message"), "{err}");
    }
}

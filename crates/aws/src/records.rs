//! Video records in DynamoDB. One item a video, keyed by `id` (string): the whole
//! record as JSON in `record`, its `version` as a number for conditional writes, and
//! `status`, `title` and `updated_at` as plain attributes for people and queries.
//!
//! Creates are conditional on `attribute_not_exists(id)`; updates on
//! `version = :expected` (optimistic concurrency), so of two deliveries racing on one
//! video exactly one write wins and the other reads again.

use aws_sdk_dynamodb::types::AttributeValue;
use vidpipe_domain::keys::VideoId;
use vidpipe_domain::ports::{Created, UpdateResult, VideoRecords};
use vidpipe_domain::record::VideoRecord;
use vidpipe_domain::stages::ProcessingVideos;
use vidpipe_domain::PortError;

use crate::error::{port_error, service_code};

/// DynamoDB's item size limit is 400 KB (Amazon DynamoDB Developer Guide, "Service,
/// account, and table quotas"). A record stays far below it: it keeps keys and
/// derived data, never a transcript's items.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

#[derive(Clone, Debug)]
pub struct DynamoRecords {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

impl DynamoRecords {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoRecords {
            client,
            table: table.into(),
        }
    }

    fn item(
        record: &VideoRecord,
    ) -> Result<std::collections::HashMap<String, AttributeValue>, PortError> {
        let json = serde_json::to_string(record)
            .map_err(|e| PortError::Failed(format!("record {} to JSON: {e}", record.id)))?;
        if json.len() > MAX_ITEM_BYTES - 4096 {
            return Err(PortError::Failed(format!(
                "record {} is {} bytes, too near DynamoDB's 400 KB item limit",
                record.id,
                json.len()
            )));
        }
        let mut item = std::collections::HashMap::new();
        item.insert("id".into(), AttributeValue::S(record.id.to_string()));
        item.insert(
            "version".into(),
            AttributeValue::N(record.version.to_string()),
        );
        item.insert(
            "status".into(),
            AttributeValue::S(record.status.as_str().into()),
        );
        item.insert(
            "title".into(),
            AttributeValue::S(record.title().to_string()),
        );
        item.insert(
            "updated_at".into(),
            AttributeValue::N(record.updated_at_unix_s.to_string()),
        );
        item.insert("record".into(), AttributeValue::S(json));
        Ok(item)
    }
}

impl DynamoRecords {
    /// The record an item holds; `id` names it in errors.
    fn record_of(
        id: &dyn std::fmt::Display,
        item: &std::collections::HashMap<String, AttributeValue>,
    ) -> Result<VideoRecord, PortError> {
        let json = match item.get("record") {
            Some(AttributeValue::S(s)) => s,
            _ => {
                return Err(PortError::Failed(format!(
                    "record {id}: item has no 'record' string"
                )))
            }
        };
        let mut record: VideoRecord = serde_json::from_str(json).map_err(|e| {
            PortError::Failed(format!("record {id}: stored JSON does not parse: {e}"))
        })?;
        if let Some(AttributeValue::N(n)) = item.get("version") {
            record.version = n
                .parse()
                .map_err(|e| PortError::Failed(format!("record {id}: version '{n}': {e}")))?;
        }
        Ok(record)
    }
}

/// A Scan of the table for items whose `status` is `processing`, page by page (each
/// page reads at most 1 MB: Amazon DynamoDB Developer Guide, "Scanning tables"). It
/// reads the whole table, which a schedule every 15 minutes can afford for the
/// thousands of videos a team makes; a table of millions would want an index on
/// `status`.
impl ProcessingVideos for DynamoRecords {
    async fn processing(&self) -> Result<Vec<VideoRecord>, PortError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#status = :processing")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":processing", AttributeValue::S("processing".into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| port_error(&format!("dynamodb Scan {}", self.table), e))?;
            for item in page.items.unwrap_or_default() {
                let id = match item.get("id") {
                    Some(AttributeValue::S(id)) => id.clone(),
                    _ => "?".into(),
                };
                records.push(Self::record_of(&id, &item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(records);
            }
        }
    }
}

const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

impl VideoRecords for DynamoRecords {
    /// The function's name and its execution environment's log stream (Lambda's
    /// `AWS_LAMBDA_FUNCTION_NAME` and `AWS_LAMBDA_LOG_STREAM_NAME`), for the default
    /// lease: Lambda's longest timeout.
    fn lease_terms(&self) -> vidpipe_domain::ports::LeaseTerms {
        let var = |name| std::env::var(name).unwrap_or_else(|_| "?".into());
        vidpipe_domain::ports::LeaseTerms {
            holder: format!(
                "{} ({})",
                var("AWS_LAMBDA_FUNCTION_NAME"),
                var("AWS_LAMBDA_LOG_STREAM_NAME")
            ),
            lease_s: vidpipe_domain::ports::DEFAULT_LEASE_S,
        }
    }

    async fn create(&self, record: &VideoRecord) -> Result<Created, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(record)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::Created),
            Err(e) if service_code(&e) == Some(CONDITION_FAILED) => {
                let existing = self.get(&record.id).await?.ok_or_else(|| {
                    PortError::Unavailable(format!("record {} exists but did not read", record.id))
                })?;
                Ok(Created::Existing(Box::new(existing)))
            }
            Err(e) => Err(port_error(&format!("dynamodb PutItem {}", record.id), e)),
        }
    }

    async fn get(&self, id: &VideoId) -> Result<Option<VideoRecord>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(&format!("dynamodb GetItem {id}"), e))?;
        out.item.map(|item| Self::record_of(id, &item)).transpose()
    }

    async fn update(&self, record: &VideoRecord) -> Result<UpdateResult, PortError> {
        let mut next = record.clone();
        next.version += 1;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(&next)?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(record.version.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(UpdateResult::Stored),
            Err(e) if service_code(&e) == Some(CONDITION_FAILED) => Ok(UpdateResult::Conflict),
            Err(e) => Err(port_error(&format!("dynamodb PutItem {}", record.id), e)),
        }
    }
}

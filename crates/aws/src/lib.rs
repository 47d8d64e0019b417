//! vidpipe's cloud side: the domain's ports on the aws-sdk clients, and the Lambda
//! handlers that the function binaries (`crates/ingest`, …) run.
//!
//! The handler takes an SQS batch (S3 notifications, pipeline messages, or
//! MediaConvert state changes forwarded by EventBridge), turns every record into a
//! domain event, hands it to the domain's dispatcher, and answers with the
//! records to deliver again (`ReportBatchItemFailures`); a record a service's quota
//! refused goes back on its queue with a delay instead ([`requeue`]). A record that cannot succeed
//! on a later delivery (bad input) is not reported: its failure is recorded on the
//! video instead. A record that is not even readable is reported, so that it ends in
//! the dead-letter queue rather than being lost.

pub mod bus;
pub mod config;
pub mod deliveries;
pub mod error;
pub mod events;
pub mod function;
pub mod handlers;
pub mod mediaconvert;
pub mod notify;
pub mod platforms;
pub mod probe;
pub mod reconcile;
pub mod records;
pub mod rekognition;
pub mod requeue;
pub mod s3;
pub mod timelapse;
pub mod transcribe;

pub use config::{Clients, FunctionConfig};
pub use function::{BaseAdapters, CloudAdapters};
/// The stage a function serves.
pub use vidpipe_domain::record::Stage;

//! The `reconcile` function: on its schedule (EventBridge, every 15 minutes), the
//! domain's reconciler over the record table ([`vidpipe_domain::stages::reconcile`]):
//! work whose message was lost or whose invocation died is driven again, and videos
//! without progress past the deadline are failed with a notice.

use serde_json::{json, Value};
use vidpipe_domain::record::now_unix_s;
use vidpipe_domain::stages::{reconcile, Reconciled};
use vidpipe_domain::PortError;

use crate::CloudAdapters;

/// One scheduled run: what was driven and what was failed, as the invocation's answer
/// (`{"driven": ["<id>: cover driven again"], "failed": [...]}`).
///
/// # Errors
/// The record table's, when it cannot be listed (the schedule runs it again).
pub async fn run(f: &CloudAdapters) -> Result<Value, PortError> {
    let done = reconcile(
        &f.records,
        &f.bus,
        &f.notifier,
        &f.config.reconcile,
        now_unix_s(),
    )
    .await?;
    let (mut driven, mut failed) = (Vec::new(), Vec::new());
    for r in &done {
        match r {
            Reconciled::Driven(..) => driven.push(r.to_string()),
            Reconciled::Failed(..) => failed.push(r.to_string()),
        }
    }
    tracing::info!(driven = driven.len(), failed = failed.len(), "reconciled");
    Ok(json!({"driven": driven, "failed": failed}))
}

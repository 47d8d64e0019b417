//! The domain's errors. A [`StageError`] says whether trying again can help: an
//! [`InputError`] cannot (the video fails with the stage and reason recorded), a
//! retryable [`PortError`] or [`StageError::NotReady`] can (the queue redelivers).

use thiserror::Error;

/// Something wrong with what a user gave us. Never retryable.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum InputError {
    #[error("bad time '{text}': {reason}")]
    BadTime { text: String, reason: String },
    #[error("sidecar {key}: {reason}")]
    BadSidecar { key: String, reason: String },
    #[error("clip window: {0}")]
    BadClip(String),
    #[error("{key}: {reason}")]
    BadUpload { key: String, reason: String },
    #[error("{key}: not a readable media file: {reason}")]
    NotMedia { key: String, reason: String },
    #[error("talk sheet: {0}")]
    TalkSheet(String),
    #[error("{0}")]
    Other(String),
}

/// A failure reported by an adapter behind a port.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum PortError {
    /// The thing asked for does not exist (an object key, a record).
    #[error("not found: {0}")]
    NotFound(String),
    /// The input itself is bad (unreadable media, a malformed document). Not retryable.
    #[error("{0}")]
    Invalid(String),
    /// A dependency is briefly unavailable (throttling, network, a lock). Retryable.
    #[error("unavailable, retry: {0}")]
    Unavailable(String),
    /// A dependency failed in a way retrying won't fix.
    #[error("{0}")]
    Failed(String),
    /// A service refused the call for its rate or concurrency quota (an AWS
    /// `ThrottlingException`, `TooManyRequestsException`, Transcribe's
    /// `LimitExceededException`, S3's `SlowDown`). Retryable, and never a reason to
    /// give up: the queue delivers it again later without counting the attempt.
    #[error("throttled, retry later: {0}")]
    Throttled(String),
}

impl PortError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PortError::Unavailable(_) | PortError::Throttled(_))
    }

    /// Whether the service refused the call for its quota.
    pub fn is_throttled(&self) -> bool {
        matches!(self, PortError::Throttled(_))
    }
}

/// How a stage ended when it did not succeed.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum StageError {
    /// Bad input: recorded on the video as its failure; retrying won't help.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A port failed.
    #[error(transparent)]
    Port(#[from] PortError),
    /// What this stage needs is not there yet (an earlier stage still running).
    #[error("not ready: {0}")]
    NotReady(String),
}

impl StageError {
    /// Whether a queue should deliver the event again.
    pub fn is_retryable(&self) -> bool {
        match self {
            StageError::Input(_) => false,
            StageError::Port(e) => e.is_retryable(),
            StageError::NotReady(_) => true,
        }
    }

    /// Whether a service refused the stage's call for its quota
    /// ([`PortError::Throttled`]).
    pub fn is_throttled(&self) -> bool {
        matches!(self, StageError::Port(e) if e.is_throttled())
    }
}

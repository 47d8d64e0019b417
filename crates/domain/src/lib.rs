//! vidpipe's domain: the models, the plan, the ports and the stage logic. No SDK
//! types and no subprocesses here; adapters live in `vidpipe-local` and `vidpipe-aws`.

pub mod captions;
pub mod catalog;
pub mod cover;
pub mod destinations;
pub mod dispatch;
pub mod error;
pub mod events;
pub mod keys;
pub mod layout;
pub mod manifest;
pub mod media;
pub mod outbox;
pub mod plan;
pub mod ports;
pub mod record;
pub mod router;
pub mod sidecar;
pub mod stages;
pub mod talks;
pub mod time;
pub mod timelapse;
pub mod transcript;
pub mod understanding;

#[cfg(any(test, feature = "test-util"))]
pub mod fakes;

pub use error::{InputError, PortError, StageError};
pub use keys::VideoId;

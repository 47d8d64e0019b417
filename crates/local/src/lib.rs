//! vidpipe's local adapters: the domain's ports on the filesystem (the bucket),
//! ffprobe and ffmpeg (probing and MediaConvert's part), the `image` crate (frame
//! measures, Rekognition's part), SQLite (DynamoDB's part) and a report page.

pub mod analyze;
pub mod download;
pub mod mail;
pub mod movie;
pub mod probe;
pub mod publish;
pub mod records;
pub mod report;
pub mod search;
pub mod store;
pub mod transcoder;

pub use analyze::ImageAnalyzer;
pub use mail::{MailNotifier, SmtpMailer};
pub use movie::{encode_movie, MovieEncodeError};
pub use probe::FfProber;
pub use publish::{LogNotifier, ReportPublisher};
pub use records::SqliteRecords;
pub use search::{Field as SearchField, SearchHit};
pub use store::LocalStore;
pub use transcoder::{EncoderSettings, FfmpegTranscoder, Progress, ProgressSink};

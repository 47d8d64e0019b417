//! SDK errors as the domain's [`PortError`]: whether a later delivery may succeed
//! decides between `Unavailable` (the queue redelivers) and `Failed`.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use vidpipe_domain::PortError;

/// Error codes that mean "slow down": a rate or concurrency quota was reached (the
/// AWS SDKs' retry classifiers treat these as throttling errors). Transcribe answers
/// `LimitExceededException` to too many requests (Amazon Transcribe API Reference,
/// StartTranscriptionJob; the other cause it names, an input too long, is refused at
/// ingest against Transcribe's limits), Rekognition
/// `ProvisionedThroughputExceededException` and `ThrottlingException`, MediaConvert
/// `TooManyRequestsException` (HTTP 429).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "LimitExceededException",
];

/// Error codes that mean "try again": the service had a passing fault.
const TRANSIENT_CODES: &[&str] = &[
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerErrorException",
];

/// The service's error code, if the call got as far as an answer.
pub fn service_code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    match err {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

/// Maps an SDK error from the call described by `what` (`"s3 GetObject media/…"`).
/// Throttling is [`PortError::Throttled`]; network failures, timeouts and 5xx
/// answers are [`PortError::Unavailable`]; 404s are [`PortError::NotFound`];
/// everything else is [`PortError::Failed`].
pub fn port_error<E>(what: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().unwrap_or("");
            let message = se.err().message().unwrap_or("");
            let text = format!("{what}: {code} (HTTP {status}): {message}");
            if THROTTLING_CODES.contains(&code) || status == 429 {
                PortError::Throttled(text)
            } else if TRANSIENT_CODES.contains(&code) || status >= 500 {
                PortError::Unavailable(text)
            } else if status == 404 || code == "NoSuchKey" || code == "NotFound" {
                PortError::NotFound(text)
            } else {
                PortError::Failed(text)
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PortError::Unavailable(format!("{what}: {}", DisplayErrorContext(&err)))
        }
        _ => PortError::Failed(format!("{what}: {}", DisplayErrorContext(&err))),
    }
}

//! What a function reads from its environment (the template's `Environment`), and
//! the SDK clients it builds once per cold start.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use thiserror::Error;
use vidpipe_domain::plan::{LadderRung, PlanConfig};
use vidpipe_domain::stages::{IdScheme, PipelineConfig, TranscriptionLimits};

/// A setting that is missing or unreadable. Raised at cold start, before any event.
#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (the template sets it)")]
    Missing(&'static str),
    #[error("environment variable {name}='{value}': {reason}")]
    Bad {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// The Secrets Manager secrets (names or ARNs) holding each platform's credentials.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlatformSecrets {
    pub youtube: Option<String>,
    pub vimeo: Option<String>,
    pub facebook: Option<String>,
}

/// Every setting a function may read. Each function asks for the ones it needs with
/// [`FunctionConfig::require`], so a missing one fails the cold start with its name.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    /// The bucket of uploads and outputs (`VIDPIPE_BUCKET`).
    pub bucket: Option<String>,
    /// The DynamoDB table of video records (`VIDPIPE_TABLE`).
    pub table: Option<String>,
    /// SNS topic for published and failed notices (`VIDPIPE_TOPIC_ARN`).
    pub topic_arn: Option<String>,
    /// SES sender of the speakers' emails (`VIDPIPE_SENDER_EMAIL`); none: no emails.
    pub sender_email: Option<String>,
    /// Queue of the transcode function (`VIDPIPE_TRANSCODE_QUEUE_URL`).
    pub transcode_queue_url: Option<String>,
    /// Queue of the publish function (`VIDPIPE_PUBLISH_QUEUE_URL`).
    pub publish_queue_url: Option<String>,
    /// Queue of the cover stage's function, `rekognition` (`VIDPIPE_COVER_QUEUE_URL`).
    pub cover_queue_url: Option<String>,
    /// The function's own queue, where a throttled record goes back with a delay
    /// (`VIDPIPE_QUEUE_URL`); none: it is delivered again the usual way.
    pub own_queue_url: Option<String>,
    /// The first deferral's delay, seconds (`VIDPIPE_THROTTLE_DELAY_S`, default 30;
    /// see [`crate::requeue`]).
    pub throttle_delay_s: u32,
    /// The reconciler's settings (`VIDPIPE_STUCK_AFTER_S`: seconds without progress
    /// after which a processing video is failed; default 12 hours).
    pub reconcile: vidpipe_domain::stages::ReconcileConfig,
    /// Role MediaConvert assumes to read and write the bucket
    /// (`VIDPIPE_MEDIACONVERT_ROLE_ARN`).
    pub mediaconvert_role_arn: Option<String>,
    /// Transcribe's language (`VIDPIPE_LANGUAGE`, default `en-US`).
    pub language_code: String,
    /// How long emailed links stay valid (`VIDPIPE_LINK_EXPIRY_S`, default 7 days, the
    /// most SigV4 presigning allows).
    pub link_expiry: Duration,
    /// Where `media/` is served (`VIDPIPE_MEDIA_BASE_URL`, the template's CloudFront
    /// distribution, `https://d….cloudfront.net`): links are made on it and last.
    /// Unset or empty: presigned S3 links.
    pub media_base_url: Option<String>,
    /// Path-style S3 addressing (`VIDPIPE_S3_PATH_STYLE=true`), for local endpoints.
    pub s3_path_style: bool,
    /// The talk sheet (`VIDPIPE_TALK_SHEET`, `gsheet:<spreadsheet id>`): ingest fills
    /// each video from its row, publish writes the link back.
    pub talk_sheet: Option<String>,
    /// The Secrets Manager secret holding the Google service account's JSON key
    /// (`VIDPIPE_GOOGLE_KEY_SECRET`, a name or ARN). Needed with a talk sheet.
    pub google_key_secret: Option<String>,
    /// The Sheets API's root (`VIDPIPE_SHEETS_API`, default Google's).
    pub sheets_api: String,
    /// The organiser's address (`VIDPIPE_ORGANISER_EMAIL`): an email for every video
    /// published, besides the SNS notice.
    pub organiser_email: Option<String>,
    pub pipeline: PipelineConfig,
    /// The platforms' credentials secrets (`VIDPIPE_YOUTUBE_SECRET`,
    /// `VIDPIPE_VIMEO_SECRET`, `VIDPIPE_FACEBOOK_SECRET`), read by the publish
    /// function once per cold start.
    pub platform_secrets: PlatformSecrets,
    /// Where the platforms' APIs are (`VIDPIPE_YOUTUBE_API`, `VIDPIPE_GOOGLE_TOKEN_URL`,
    /// `VIDPIPE_VIMEO_API`, `VIDPIPE_FACEBOOK_API`: stand-ins in tests).
    pub platform_endpoints: vidpipe_platforms::clients::Endpoints,
    /// Bytes per upload request (`VIDPIPE_UPLOAD_CHUNK`).
    pub upload_chunk: usize,
}

impl FunctionConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// [`ConfigError::Bad`] for a number or ladder that does not parse.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut plan = PlanConfig::default();
        if let Some(v) = get("VIDPIPE_FADE_S") {
            plan.fade_s = parse_number("VIDPIPE_FADE_S", &v)?;
            if !(0.0..=60.0).contains(&plan.fade_s) {
                return Err(bad("VIDPIPE_FADE_S", &v, "must be 0 to 60 seconds"));
            }
        }
        if let Some(v) = get("VIDPIPE_LADDER") {
            plan.ladder = parse_ladder(&v)?;
        }
        let mut pipeline = PipelineConfig {
            plan,
            id_scheme: IdScheme::Object,
            transcription: true,
            transcription_limits: Some(TranscriptionLimits::AMAZON_TRANSCRIBE),
            ..PipelineConfig::default()
        };
        if let Some(v) = get("VIDPIPE_MAX_UPLOAD_BYTES") {
            pipeline.max_upload_bytes = parse_number("VIDPIPE_MAX_UPLOAD_BYTES", &v)?;
        }
        if let Some(v) = get("VIDPIPE_TRANSCRIBE") {
            pipeline.transcription = v != "false";
        }
        if let Some(v) = get("VIDPIPE_PUBLISH_TO") {
            let list: serde_json::Value = serde_json::from_str(&v)
                .map_err(|e| bad("VIDPIPE_PUBLISH_TO", &v, &format!("not JSON: {e}")))?;
            pipeline.publish = vidpipe_domain::destinations::parse_destinations(&list)
                .map_err(|e| bad("VIDPIPE_PUBLISH_TO", &v, &e))?;
        }
        let defaults = vidpipe_platforms::clients::Endpoints::default();
        let link_expiry_s: u64 = match get("VIDPIPE_LINK_EXPIRY_S") {
            Some(v) => parse_number("VIDPIPE_LINK_EXPIRY_S", &v)?,
            None => 7 * 24 * 3600,
        };
        Ok(FunctionConfig {
            bucket: get("VIDPIPE_BUCKET"),
            table: get("VIDPIPE_TABLE"),
            topic_arn: get("VIDPIPE_TOPIC_ARN"),
            sender_email: get("VIDPIPE_SENDER_EMAIL"),
            transcode_queue_url: get("VIDPIPE_TRANSCODE_QUEUE_URL"),
            publish_queue_url: get("VIDPIPE_PUBLISH_QUEUE_URL"),
            cover_queue_url: get("VIDPIPE_COVER_QUEUE_URL"),
            own_queue_url: get("VIDPIPE_QUEUE_URL"),
            throttle_delay_s: get("VIDPIPE_THROTTLE_DELAY_S")
                .map(|v| parse_number("VIDPIPE_THROTTLE_DELAY_S", &v))
                .transpose()?
                .unwrap_or(30),
            reconcile: match get("VIDPIPE_STUCK_AFTER_S") {
                Some(v) => vidpipe_domain::stages::ReconcileConfig {
                    stuck_after_s: parse_number("VIDPIPE_STUCK_AFTER_S", &v)?,
                },
                None => Default::default(),
            },
            mediaconvert_role_arn: get("VIDPIPE_MEDIACONVERT_ROLE_ARN"),
            language_code: get("VIDPIPE_LANGUAGE").unwrap_or_else(|| "en-US".into()),
            link_expiry: Duration::from_secs(link_expiry_s.min(7 * 24 * 3600)),
            media_base_url: get("VIDPIPE_MEDIA_BASE_URL")
                .map(|u| u.trim_end_matches('/').to_string())
                .filter(|u| !u.is_empty()),
            s3_path_style: get("VIDPIPE_S3_PATH_STYLE").is_some_and(|v| v == "true"),
            talk_sheet: get("VIDPIPE_TALK_SHEET"),
            google_key_secret: get("VIDPIPE_GOOGLE_KEY_SECRET"),
            sheets_api: get("VIDPIPE_SHEETS_API")
                .unwrap_or_else(|| vidpipe_sheets::google::API_BASE.to_string()),
            organiser_email: get("VIDPIPE_ORGANISER_EMAIL"),
            pipeline,
            platform_secrets: PlatformSecrets {
                youtube: get("VIDPIPE_YOUTUBE_SECRET"),
                vimeo: get("VIDPIPE_VIMEO_SECRET"),
                facebook: get("VIDPIPE_FACEBOOK_SECRET"),
            },
            platform_endpoints: vidpipe_platforms::clients::Endpoints {
                youtube: get("VIDPIPE_YOUTUBE_API").unwrap_or(defaults.youtube),
                google_token: get("VIDPIPE_GOOGLE_TOKEN_URL").unwrap_or(defaults.google_token),
                vimeo: get("VIDPIPE_VIMEO_API").unwrap_or(defaults.vimeo),
                facebook: get("VIDPIPE_FACEBOOK_API").unwrap_or(defaults.facebook),
            },
            upload_chunk: get("VIDPIPE_UPLOAD_CHUNK")
                .map(|v| parse_number("VIDPIPE_UPLOAD_CHUNK", &v))
                .transpose()?
                .unwrap_or(vidpipe_platforms::clients::DEFAULT_CHUNK),
        })
    }

    /// The value of a setting this function cannot run without.
    pub fn require<'a>(
        value: &'a Option<String>,
        name: &'static str,
    ) -> Result<&'a str, ConfigError> {
        value.as_deref().ok_or(ConfigError::Missing(name))
    }
}

/// The string of the Secrets Manager secret `secret_id` that the setting `name` names.
///
/// # Errors
/// [`ConfigError::Bad`] naming the setting and the secret when it cannot be read or
/// has no string value (the value is never quoted).
pub async fn secret_string(
    secrets: &aws_sdk_secretsmanager::Client,
    name: &'static str,
    secret_id: &str,
) -> Result<String, ConfigError> {
    let bad = |reason: String| ConfigError::Bad {
        name,
        value: secret_id.to_string(),
        reason,
    };
    let secret = secrets
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            bad(crate::error::port_error("secretsmanager GetSecretValue", e).to_string())
        })?;
    secret
        .secret_string()
        .map(str::to_string)
        .ok_or_else(|| bad("the secret has no string value".into()))
}

fn bad(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Bad {
        name,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn parse_number<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| bad(name, value, &e.to_string()))
}

/// `1080:5000:128,720:3000:128`: short side in pixels, video kbit/s, audio kbit/s,
/// largest first.
pub fn parse_ladder(text: &str) -> Result<Vec<LadderRung>, ConfigError> {
    let mut rungs = Vec::new();
    for part in text.split(',') {
        let fields: Vec<&str> = part.trim().split(':').collect();
        let [side, video, audio] = fields[..] else {
            return Err(bad(
                "VIDPIPE_LADDER",
                text,
                &format!("rung '{part}' is not SHORT_SIDE:VIDEO_KBPS:AUDIO_KBPS"),
            ));
        };
        let side: u32 = parse_number("VIDPIPE_LADDER", side)?;
        if side < 16 || !side.is_multiple_of(2) {
            return Err(bad(
                "VIDPIPE_LADDER",
                text,
                &format!("short side {side} must be even and at least 16"),
            ));
        }
        rungs.push(LadderRung::new(
            side,
            parse_number("VIDPIPE_LADDER", video)?,
            parse_number("VIDPIPE_LADDER", audio)?,
        ));
    }
    if rungs
        .windows(2)
        .any(|w| w[0].short_side_px <= w[1].short_side_px)
    {
        return Err(bad("VIDPIPE_LADDER", text, "rungs must go largest first"));
    }
    Ok(rungs)
}

/// The SDK clients a function uses, built once per cold start from one
/// [`SdkConfig`] (credentials, region and, for local endpoints, `AWS_ENDPOINT_URL`).
#[derive(Clone, Debug)]
pub struct Clients {
    pub sdk: SdkConfig,
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    /// Loads the SDK configuration from the environment (as the Lambda runtime
    /// provides it).
    pub async fn from_env(config: &FunctionConfig) -> Clients {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Clients::new(sdk, config.s3_path_style)
    }

    pub fn new(sdk: SdkConfig, s3_path_style: bool) -> Clients {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(s3_path_style)
                .build(),
        );
        Clients { sdk, s3 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<FunctionConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FunctionConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn reads_the_ladder_fade_and_limits() {
        let c = from(&[
            ("VIDPIPE_BUCKET", "b"),
            ("VIDPIPE_FADE_S", "2.5"),
            ("VIDPIPE_LADDER", "720:3000:128, 360:700:96"),
            ("VIDPIPE_MAX_UPLOAD_BYTES", "1000"),
        ])
        .unwrap();
        assert_eq!(c.pipeline.plan.fade_s, 2.5);
        assert_eq!(c.pipeline.plan.ladder.len(), 2);
        assert_eq!(c.pipeline.plan.ladder[1].video_max_bitrate_bps, 700_000);
        assert_eq!(c.pipeline.max_upload_bytes, 1000);
        assert_eq!(
            FunctionConfig::require(&c.bucket, "VIDPIPE_BUCKET"),
            Ok("b")
        );
        assert_eq!(
            FunctionConfig::require(&c.table, "VIDPIPE_TABLE"),
            Err(ConfigError::Missing("VIDPIPE_TABLE"))
        );
    }

    #[test]
    fn refuses_bad_settings_by_name() {
        for (name, value, needle) in [
            ("VIDPIPE_FADE_S", "x", "VIDPIPE_FADE_S='x'"),
            ("VIDPIPE_FADE_S", "90", "0 to 60"),
            ("VIDPIPE_LADDER", "720:3000", "SHORT_SIDE"),
            ("VIDPIPE_LADDER", "360:700:96,720:3000:128", "largest first"),
            ("VIDPIPE_LADDER", "721:3000:128", "even"),
        ] {
            let err = from(&[(name, value)]).unwrap_err().to_string();
            assert!(err.contains(needle), "{name}={value}: {err}");
        }
    }
}

//! The test harness: a moto server (PyPI `moto[server]`) on a free loopback port,
//! started per test and killed after; small HTTP stubs for what moto does not emulate
//! (MediaConvert, Rekognition DetectFaces); and the world the template builds (bucket
//! with notifications to queues, table, topic, sender identity), made with the same
//! SDK clients the functions use.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use vidpipe_aws::config::{Clients, FunctionConfig};
use vidpipe_aws::CloudAdapters;

mod functions;
#[allow(unused_imports)]
pub use functions::*;

pub const BUCKET: &str = "vidpipe-media";
pub const TABLE: &str = "vidpipe-videos";
pub const SENDER: &str = "vidpipe@example.org";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A moto server for one test. It records every request it serves (moto's recorder)
/// in `recording`, for [`Functions`] to check each function's calls against its
/// policy.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub recording: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let recording = dir.path().join("requests.jsonl");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server on PATH (make python-packages installs moto[server])");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            recording,
            _dir: dir,
        }
    }

    /// moto's own view of its state (`/moto-api/data.json`).
    pub fn data(&self) -> serde_json::Value {
        let (status, body) = http_get(&format!("{}/moto-api/data.json", self.endpoint));
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }

    /// The emails SES was asked to send: (to, subject, body).
    pub fn sent_emails(&self) -> Vec<(String, String, String)> {
        let data = self.data();
        let mut out = Vec::new();
        for m in data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            for to in m["destinations"]["ToAddresses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                out.push((
                    to.as_str().unwrap_or("").to_string(),
                    m["subject"].as_str().unwrap_or("").to_string(),
                    m["body"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
        out
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

/// One request a stub received.
#[derive(Debug, Clone)]
pub struct StubRequest {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// A one-route-fits-all HTTP stub: answers every request with `answer(request)`
/// (status, JSON body) and keeps what it received.
pub struct Stub {
    pub endpoint: String,
    pub requests: Arc<Mutex<Vec<StubRequest>>>,
}

impl Stub {
    pub fn start(answer: impl Fn(&StubRequest) -> (u16, String) + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &answer, &seen);
            }
        });
        Stub { endpoint, requests }
    }

    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null))
            .collect()
    }
}

/// Reads one request, records it, then answers: recorded before the client can see
/// the answer, so a test that reads `requests` after its call returns finds it.
fn serve(
    mut stream: TcpStream,
    answer: &impl Fn(&StubRequest) -> (u16, String),
    seen: &Mutex<Vec<StubRequest>>,
) -> Option<()> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    let request = StubRequest {
        method,
        path,
        headers,
        body,
    };
    let (status, text) = answer(&request);
    seen.lock().unwrap().push(request);
    let _ = write!(
        stream,
        "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nx-amzn-requestid: stub\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    Some(())
}

/// A MediaConvert stand-in: CreateJob answers a job whose id is derived from the
/// client request token (as MediaConvert returns the same job for the same token);
/// CancelJob (`DELETE /2017-08-29/jobs/{id}`) answers 202.
pub fn mediaconvert_stub() -> Stub {
    mediaconvert_stub_throttling(0)
}

/// As [`mediaconvert_stub`], but the first `throttled` CreateJob requests are
/// refused as MediaConvert refuses requests over its rate: HTTP 429,
/// `TooManyRequestsException`.
pub fn mediaconvert_stub_throttling(throttled: usize) -> Stub {
    let creates = std::sync::atomic::AtomicUsize::new(0);
    Stub::start(move |r| {
        if r.method == "DELETE" {
            return (202, "{}".into());
        }
        if creates.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < throttled {
            let refusal = serde_json::json!({
                "__type": "TooManyRequestsException",
                "message": "Too many requests"
            });
            return (429, refusal.to_string());
        }
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let token = body["clientRequestToken"].as_str().unwrap_or("none");
        let id = format!("job-{}", &token[token.len().saturating_sub(16)..]);
        (
            201,
            serde_json::json!({"job": {"id": id, "status": "SUBMITTED"}}).to_string(),
        )
    })
}

/// MediaConvert behind `stub` (see [`mediaconvert_stub`]), writing to `store`.
pub async fn stub_transcoder<'a>(
    stub: &Stub,
    store: &'a vidpipe_aws::s3::S3Store,
) -> vidpipe_aws::mediaconvert::MediaConvertTranscoder<'a> {
    vidpipe_aws::mediaconvert::MediaConvertTranscoder {
        client: aws_sdk_mediaconvert::Client::new(&sdk_config(&stub.endpoint).await),
        role_arn: "arn:aws:iam::123456789012:role/vidpipe-mediaconvert".into(),
        store,
    }
}

/// Rekognition DetectFaces stand-in (moto answers it with HTTP 500): one clear face.
pub fn faces_stub() -> Stub {
    Stub::start(|_| {
        (
            200,
            serde_json::json!({"FaceDetails": [{
                "BoundingBox": {"Width": 0.3, "Height": 0.4, "Left": 0.3, "Top": 0.2},
                "Confidence": 99.5,
                "Quality": {"Brightness": 80.0, "Sharpness": 90.0}
            }]})
            .to_string(),
        )
    })
}

/// The SDK's settings for a client of `endpoint`: its standard retries (3 attempts),
/// with backoffs of milliseconds so that a stub's refusals do not slow the tests.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    let retries = aws_config::retry::RetryConfig::standard()
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20));
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retries)
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

/// The queues of the template, by function.
pub const QUEUES: [&str; 6] = [
    "ingest",
    "transcode",
    "transcribe-start",
    "transcribe-store",
    "rekognition",
    "publish",
];

/// The deployed world, on moto.
pub struct World {
    pub moto: Moto,
    pub sdk: SdkConfig,
    pub function: CloudAdapters,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_urls: HashMap<&'static str, String>,
    /// The environment the template gives the functions, pointed at this world.
    pub env: HashMap<String, String>,
}

impl World {
    pub async fn new(extra_env: &[(&str, &str)]) -> World {
        // The handlers' logs, shown with a failing test's output (RUST_LOG to filter).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
            )
            .with_test_writer()
            .try_init();
        let moto = Moto::start();
        let sdk = sdk_config(&moto.endpoint).await;
        let clients = Clients::new(sdk.clone(), true);
        clients
            .s3
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        use aws_sdk_dynamodb::types::*;
        dynamo
            .create_table()
            .table_name(TABLE)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let mut queue_urls = HashMap::new();
        let mut queue_arns = HashMap::new();
        for q in QUEUES {
            let url = sqs
                .create_queue()
                .queue_name(format!("vidpipe-{q}"))
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap();
            queue_arns.insert(q, format!("arn:aws:sqs:us-east-1:123456789012:vidpipe-{q}"));
            queue_urls.insert(q, url);
        }
        // The template's notification rules.
        let rule = |queue: &str, prefix: &str, suffix: Option<&str>| {
            let mut rules = vec![FilterRule::builder()
                .name(FilterRuleName::Prefix)
                .value(prefix)
                .build()];
            if let Some(s) = suffix {
                rules.push(
                    FilterRule::builder()
                        .name(FilterRuleName::Suffix)
                        .value(s)
                        .build(),
                );
            }
            QueueConfiguration::builder()
                .queue_arn(&queue_arns[queue])
                .events(Event::from("s3:ObjectCreated:*"))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                        .build(),
                )
                .build()
                .unwrap()
        };
        clients
            .s3
            .put_bucket_notification_configuration()
            .bucket(BUCKET)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(rule("ingest", "uploads/", None))
                    .queue_configurations(rule("transcribe-start", "media/", Some(".mp3")))
                    .queue_configurations(rule("transcribe-store", "transcripts/", Some(".json")))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let topic = aws_sdk_sns::Client::new(&sdk)
            .create_topic()
            .name("vidpipe-notices")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity(SENDER)
            .send()
            .await
            .unwrap();
        let mut env: HashMap<String, String> = [
            ("VIDPIPE_BUCKET", BUCKET.to_string()),
            ("VIDPIPE_TABLE", TABLE.to_string()),
            ("VIDPIPE_TOPIC_ARN", topic),
            ("VIDPIPE_SENDER_EMAIL", SENDER.to_string()),
            (
                "VIDPIPE_TRANSCODE_QUEUE_URL",
                queue_urls["transcode"].clone(),
            ),
            ("VIDPIPE_PUBLISH_QUEUE_URL", queue_urls["publish"].clone()),
            ("VIDPIPE_COVER_QUEUE_URL", queue_urls["rekognition"].clone()),
            (
                "VIDPIPE_MEDIACONVERT_ROLE_ARN",
                "arn:aws:iam::123456789012:role/vidpipe-mediaconvert".to_string(),
            ),
            ("VIDPIPE_S3_PATH_STYLE", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra_env {
            env.insert(k.to_string(), v.to_string());
        }
        let config = FunctionConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        let function = CloudAdapters::new(config, clients).unwrap();
        World {
            moto,
            sdk,
            function,
            sqs,
            queue_urls,
            env,
        }
    }

    /// Takes every message waiting on a function's queue, as the Lambda service hands
    /// them over (an SQS event), and deletes them from the queue.
    pub async fn drain(&self, queue: &str) -> SqsEvent {
        let url = &self.queue_urls[queue];
        let mut event = SqsEvent::default();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return event;
            }
            for m in messages {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id.clone();
                record.body = m.body.clone();
                record.attributes = m
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), v))
                    .collect();
                for (name, value) in m.message_attributes.unwrap_or_default() {
                    let mut attribute =
                        aws_lambda_events::event::sqs::SqsMessageAttribute::default();
                    attribute.string_value = value.string_value;
                    attribute.data_type = Some(value.data_type);
                    record.message_attributes.insert(name, attribute);
                }
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
                event.records.push(record);
            }
        }
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        self.function
            .clients
            .s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }
}

/// An SQS event of `bodies`, as in events/.
pub fn sqs_event(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (i, b) in bodies.iter().enumerate() {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m-{i}"));
        m.body = Some(b.clone());
        m.attributes
            .insert("ApproximateReceiveCount".into(), "1".into());
        event.records.push(m);
    }
    event
}

/// A short MP4 (H.264 + AAC) made by ffmpeg: `seconds` of a test pattern and a tone.
pub fn make_mp4(seconds: u32, faststart: bool) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!(
        "vidpipe-aws-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("v.mp4");
    let video = format!("testsrc2=size=640x360:rate=25:duration={seconds}");
    let audio = format!("sine=frequency=440:duration={seconds}");
    let mut args: Vec<String> = [
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        video.as_str(),
        "-f",
        "lavfi",
        "-i",
        audio.as_str(),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if faststart {
        args.extend(["-movflags".to_string(), "+faststart".to_string()]);
    }
    args.push(path.display().to_string());
    let status = Command::new("ffmpeg")
        .args(&args)
        .status()
        .expect("ffmpeg on PATH");
    assert!(status.success());
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

/// Runs the CreateJob body through botocore's validator and the model's ranges and
/// patterns (scripts/validate-mediaconvert-job.py).
pub fn validate_create_job(body: &serde_json::Value) -> Result<(), String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/validate-mediaconvert-job.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

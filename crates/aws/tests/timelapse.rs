//! The scheduled time-lapse function on moto behind the real SDK clients, with frames
//! on a real FTP server (pyftpdlib) whose password is in Secrets Manager: frames
//! synced into the bucket once, the Y4M mezzanine streamed into `uploads/` with its
//! sidecar, read back by ffmpeg frame by frame, and taken by the ingest handler.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{Duration, NaiveDate};
use common::*;
use image::{Rgba, RgbaImage};
use serde_json::{json, Value};
use vidpipe_aws::handlers;
use vidpipe_aws::probe::S3Prober;
use vidpipe_aws::timelapse::{handle_event, MultipartUpload};
use vidpipe_aws::Stage;
use vidpipe_domain::events::ObjectCreated;
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::stages::{video_id_for, IdScheme};
use vidpipe_timelapse::test_ftp::FtpServer;

const W: u32 = 64;
const H: u32 = 32;

/// Frame `index`: the left half transparent, the right half grey with the index in
/// four 8×8 blocks (white for a 1 bit).
fn frame(index: u32) -> RgbaImage {
    RgbaImage::from_fn(W, H, |x, y| {
        if x < W / 2 {
            Rgba([0, 0, 0, 0])
        } else if y < 8 {
            let on = index >> ((x - W / 2) / 8) & 1 == 1;
            if on {
                Rgba([255, 255, 255, 255])
            } else {
                Rgba([0, 0, 0, 255])
            }
        } else {
            Rgba([128, 128, 128, 255])
        }
    })
}

/// Steps 0–11 six hours apart from 2024-02-20, without step 5.
fn serve_frames(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let t0 = NaiveDate::from_ymd_opt(2024, 2, 20)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    for k in (0..12).filter(|&k| k != 5) {
        let name = (t0 + Duration::hours(6 * k))
            .format("pw_%Y%m%d_%H%M.png")
            .to_string();
        frame(k as u32).save(dir.join(name)).unwrap();
    }
}

fn png(image: &RgbaImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn get(w: &World, key: &str) -> Vec<u8> {
    let o = w
        .function
        .clients
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap();
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

async fn keys(w: &World, prefix: &str) -> Vec<String> {
    let page = w
        .function
        .clients
        .s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    page.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// The Y4M's pictures as RGB, decoded by ffmpeg; each one's index.
fn markers(y4m: &[u8]) -> Vec<u32> {
    let mut child = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "yuv4mpegpipe",
            "-i",
            "pipe:0",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ffmpeg");
    let mut stdin = child.stdin.take().unwrap();
    let input = y4m.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
        .chunks((W * H * 3) as usize)
        .map(|f| {
            (0..4)
                .filter(|b| {
                    let i = ((4 * W + W / 2 + b * 8 + 4) * 3) as usize;
                    f[i] > 128
                })
                .map(|b| 1 << b)
                .sum()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_syncs_once_and_hands_a_y4m_movie_to_ingest() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    serve_frames(&served);
    let ftp = FtpServer::start(&served, &["--user", "sci", "--password", "s3cret"]);
    let w = World::new(&[]).await;
    aws_sdk_secretsmanager::Client::new(&w.sdk)
        .create_secret()
        .name("vidpipe/ftp")
        .secret_string("s3cret")
        .send()
        .await
        .unwrap();
    w.put(
        "config/basemap.png",
        png(&RgbaImage::from_pixel(8, 4, Rgba([0, 0, 200, 255]))),
    )
    .await;
    w.put(
        "config/timelapse/pw.json",
        serde_json::to_vec(&json!({
            "dataset_id": "pw",
            "input": format!("ftp://sci@127.0.0.1:{}/", ftp.port),
            "password_secret": "vidpipe/ftp",
            "period": "P3D",
            "fill": "hold",
            "fps": 10,
            "basemap_key": "config/basemap.png",
            "catalog": "s3://vidpipe-media/catalog/dataset.json",
            "preset": ""
        }))
        .unwrap(),
    )
    .await;
    let clients = &w.function.clients;

    let report = handle_event(
        clients,
        BUCKET,
        json!({"config_key": "config/timelapse/pw.json"}),
    )
    .await
    .unwrap();
    assert_eq!(
        report["sync"]["downloaded"].as_array().unwrap().len(),
        11,
        "{report:#}"
    );
    assert_eq!(report["steps"], 12);
    assert_eq!(report["gaps"], json!(["2024-02-21T06:00:00Z"]));
    let movie_key = "uploads/timelapse-pw-20240222T180000Z.y4m";
    assert_eq!(report["movie_key"], movie_key);
    assert_eq!(keys(&w, "timelapse/pw/frames/").await.len(), 11);
    let stored: Value = serde_json::from_slice(&get(&w, "timelapse/pw/report.json").await).unwrap();
    assert_eq!(stored["steps"], 12);

    let y4m = get(&w, movie_key).await;
    assert!(
        y4m.starts_with(b"YUV4MPEG2 W64 H32 F10:1 "),
        "{:?}",
        &y4m[..40]
    );
    assert_eq!(
        y4m.len() as u64,
        vidpipe_timelapse::y4m::stream_len(W, H, 10, 12)
    );
    assert_eq!(
        markers(&y4m),
        [0, 1, 2, 3, 4, 4, 6, 7, 8, 9, 10, 11],
        "time order, the gap held"
    );
    let sidecar: Value =
        serde_json::from_slice(&get(&w, "uploads/timelapse-pw-20240222T180000Z.json").await)
            .unwrap();
    assert_eq!(sidecar["catalog"]["dataset_id"], "pw");
    assert_eq!(sidecar["catalog"]["start"], "2024-02-20T00:00:00Z");
    assert_eq!(sidecar["catalog"]["end"], "2024-02-22T18:00:00Z");

    // The schedule fires again (or Lambda retries): nothing downloaded or made again.
    let fetched = ftp.retrieved().len();
    let again = handle_event(
        clients,
        BUCKET,
        json!({"config_key": "config/timelapse/pw.json"}),
    )
    .await
    .unwrap();
    assert_eq!(again["sync"]["downloaded"], json!([]));
    assert_eq!(again["already_made"], true);
    assert_eq!(ftp.retrieved().len(), fetched, "no RETR the second time");

    // Ingest takes the movie as any upload: probed from its Y4M header.
    let f = &w.function;
    let (bus, config) = (&f.bus, &f.config.pipeline);
    let prober = S3Prober { store: &f.store };
    let adapters = f.adapters().with_prober(&prober);
    let r = handlers::handle(
        Stage::Ingest,
        &adapters,
        bus,
        config,
        f.around(),
        w.drain("ingest").await,
    )
    .await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
    let head = clients
        .s3
        .head_object()
        .bucket(BUCKET)
        .key(movie_key)
        .send()
        .await
        .unwrap();
    let id = video_id_for(
        IdScheme::Object,
        &ObjectCreated {
            bucket: BUCKET.into(),
            key: movie_key.into(),
            size_bytes: 0,
            etag: head.e_tag.map(|e| e.trim_matches('"').to_string()),
            version_id: None,
        },
    );
    let record = f
        .records
        .get(&id)
        .await
        .unwrap()
        .expect("ingest recorded the movie");
    let media = record.media.as_ref().unwrap();
    let video = media.video.as_ref().unwrap();
    assert_eq!((video.width_px, video.height_px, video.fps), (64, 32, 10.0));
    assert!((media.duration_s - 1.2).abs() < 1e-9, "{media:?}");
    assert!(media.audio.is_none());
    assert_eq!(
        record
            .sidecar
            .as_ref()
            .unwrap()
            .catalog
            .as_ref()
            .unwrap()
            .dataset_id,
        "pw"
    );
    // Asked for once by the movie's event and once by its sidecar's (ingest found the
    // movie there already); the transcode stage claims it once.
    let transcode = w.drain("transcode").await;
    assert!(!transcode.records.is_empty(), "the transcode is asked for");
    for m in &transcode.records {
        assert!(
            m.body.as_deref().unwrap_or("").contains(id.as_str()),
            "{m:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_uploads_complete_in_parts_and_abort_without_a_trace() {
    let w = World::new(&[]).await;
    let s3 = w.function.clients.s3.clone();
    let rt = tokio::runtime::Handle::current();
    let data: Vec<u8> = (0..(11u32 << 20)).map(|i| (i % 251) as u8).collect();
    let (s3b, rtb, body) = (s3.clone(), rt.clone(), data.clone());
    let size = tokio::task::spawn_blocking(move || {
        let mut up = MultipartUpload::new(&s3b, BUCKET, "uploads/big.y4m", rtb, 5 << 20);
        for chunk in body.chunks(700_000) {
            up.write_all(chunk).unwrap();
        }
        up.complete().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(size, data.len() as u64);
    assert_eq!(
        get(&w, "uploads/big.y4m").await,
        data,
        "three parts, in order"
    );
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key("uploads/big.y4m")
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().unwrap().ends_with("-3\""),
        "a multipart ETag: {:?}",
        head.e_tag()
    );

    let s3b = s3.clone();
    tokio::task::spawn_blocking(move || {
        let mut up = MultipartUpload::new(&s3b, BUCKET, "uploads/half.y4m", rt, 5 << 20);
        up.write_all(&vec![7u8; 6 << 20]).unwrap();
        up.abort();
    })
    .await
    .unwrap();
    assert!(keys(&w, "uploads/half").await.is_empty());
    let open = s3
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert!(
        open.uploads().is_empty(),
        "no parts left: {:?}",
        open.uploads()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_jobs_servers_and_basemaps_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let served = tmp.path().join("served");
    serve_frames(&served);
    let ftp = FtpServer::start(&served, &[]);
    let w = World::new(&[]).await;
    let clients = &w.function.clients;
    let url = format!("ftp://127.0.0.1:{}/", ftp.port);
    let run = |job: Value| async move {
        handle_event(clients, BUCKET, job)
            .await
            .map_err(|e| e.to_string())
    };

    let e = run(json!({"dataset_id": "pw", "input": url, "period": "P1Yjunk"}))
        .await
        .unwrap_err();
    assert!(e.contains("P1Yjunk"), "{e}");
    let e = run(json!({"dataset_id": "../x", "input": url, "period": "P1Y"}))
        .await
        .unwrap_err();
    assert!(e.contains("dataset_id"), "{e}");
    let e = run(json!({"config_key": "config/missing.json"}))
        .await
        .unwrap_err();
    assert!(e.contains("config/missing.json"), "{e}");
    let e = run(json!({"dataset_id": "pw", "input": url, "period": "P1Y", "end": "2020-01-01"}))
        .await
        .unwrap_err();
    assert!(e.contains("no frames in the period"), "{e}");
    w.put("config/basemap.png", b"<html>".to_vec()).await;
    let e = run(json!({"dataset_id": "pw", "input": url, "period": "P3D", "basemap_key": "config/basemap.png"}))
        .await
        .unwrap_err();
    assert!(
        e.contains("basemap") && e.contains("not a readable image"),
        "{e}"
    );
    let stored: Value = serde_json::from_slice(&get(&w, "timelapse/pw/report.json").await).unwrap();
    assert!(
        stored["error"].as_str().unwrap().contains("basemap"),
        "the report says why: {stored:#}"
    );
    let nobody = format!(
        "ftp://127.0.0.1:{}/",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let e = run(json!({"dataset_id": "pw", "input": nobody, "period": "P3D"}))
        .await
        .unwrap_err();
    assert!(e.contains("cannot connect"), "{e}");
    assert!(
        keys(&w, "uploads/").await.is_empty(),
        "nothing handed to ingest"
    );
}

#[test]
fn the_schedule_inputs_in_events_are_jobs() {
    use vidpipe_aws::timelapse::TimelapseEvent;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // The reconciler's scheduled event (`scheduler-reconcile.json`) is read by no
        // one: only the time-lapse's are jobs.
        if !name.starts_with("scheduler-timelapse") {
            continue;
        }
        seen += 1;
        let event: TimelapseEvent = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if let TimelapseEvent::Job(job) = event {
            job.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    assert_eq!(seen, 2);
}

//! Notify: each email and sheet write exactly once across replays, deferrals and a
//! crash between sending and recording.

use crate::fakes::*;
use crate::keys::VideoId;
use crate::outbox::{DeliveryState, NotifyConfig};
use crate::ports::VideoRecords;
use crate::record::{VideoRecord, VideoStatus};
use crate::sidecar::{Sidecar, Speaker};
use crate::stages::notify::notify;
use crate::talks::TalkRef;

fn config() -> NotifyConfig {
    NotifyConfig {
        email: true,
        organiser: Some("org@example.org".into()),
        sheet_write_back: true,
        catalog_write_back: true,
    }
}

async fn published(records: &MemRecords, status: VideoStatus) -> VideoId {
    let id = VideoId::parse("0123456789abcdef").unwrap();
    let mut v = VideoRecord::new(id.clone(), "uploads/talk.mp4", "talk.mp4");
    v.status = status;
    v.links = vec!["https://example.org/talk".into()];
    v.talk = Some(TalkRef {
        sheet: "talks.xlsx".into(),
        tab: "Talks".into(),
        row_number: 2,
        title: "Talk".into(),
    });
    v.sidecar = Some(Sidecar {
        title: Some("Talk".into()),
        speakers: vec![
            Speaker {
                name: "Ada".into(),
                email: Some("ada@example.org".into()),
            },
            Speaker {
                name: "Bob".into(),
                email: Some("bob@example.org".into()),
            },
        ],
        ..Sidecar::default()
    });
    records.create(&v).await.unwrap();
    id
}

#[tokio::test]
async fn every_speaker_the_organiser_and_the_sheet_once_even_when_replayed() {
    let (records, mailer, sheet) = (
        MemRecords::default(),
        FakeMailer::default(),
        FakeSheet::default(),
    );
    let id = published(&records, VideoStatus::Published).await;
    let first = notify(&records, Some(&mailer), Some(&sheet), &config(), &id)
        .await
        .unwrap();
    assert_eq!(first.sent.len(), 4, "{first:?}");
    let again = notify(&records, Some(&mailer), Some(&sheet), &config(), &id)
        .await
        .unwrap();
    assert!(again.sent.is_empty(), "{again:?}");
    let mut to = mailer.addresses();
    to.sort();
    assert_eq!(
        to,
        ["ada@example.org", "bob@example.org", "org@example.org"]
    );
    assert_eq!(sheet.written.lock().unwrap().len(), 1);
    let rec = records.get(&id).await.unwrap().unwrap();
    assert!(rec
        .outbox
        .iter()
        .all(|d| d.state == DeliveryState::Sent && d.attempts == 1));
}

#[tokio::test]
async fn nothing_goes_out_for_a_video_that_is_not_published() {
    let (records, mailer, sheet) = (
        MemRecords::default(),
        FakeMailer::default(),
        FakeSheet::default(),
    );
    let id = published(&records, VideoStatus::Failed).await;
    let r = notify(&records, Some(&mailer), Some(&sheet), &config(), &id)
        .await
        .unwrap();
    assert!(r.sent.is_empty() && mailer.addresses().is_empty());
}

#[tokio::test]
async fn a_refused_address_is_recorded_and_the_rest_are_sent() {
    let records = MemRecords::default();
    let mailer = FakeMailer {
        refuse: vec!["bob@example.org".into()],
        ..FakeMailer::default()
    };
    let id = published(&records, VideoStatus::Published).await;
    let r = notify(&records, Some(&mailer), None::<&FakeSheet>, &config(), &id)
        .await
        .unwrap();
    assert_eq!(r.failed.len(), 1);
    assert!(r.failed[0].1.contains("550"), "{r:?}");
    let rec = records.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.status, VideoStatus::Published);
    let bob = rec
        .outbox
        .iter()
        .find(|d| d.target().contains("bob"))
        .unwrap();
    assert_eq!(bob.state, DeliveryState::Failed);
    // No sheet writer in this run: no sheet delivery recorded.
    assert_eq!(rec.outbox.len(), 3);
    let again = notify(&records, Some(&mailer), None::<&FakeSheet>, &config(), &id)
        .await
        .unwrap();
    assert!(
        again.failed.is_empty() && again.sent.is_empty(),
        "a refusal is not retried"
    );
}

#[tokio::test]
async fn a_server_that_is_down_leaves_every_email_pending_for_the_next_run() {
    let (records, mailer, sheet) = (
        MemRecords::default(),
        FakeMailer::default(),
        FakeSheet::default(),
    );
    *mailer.down.lock().unwrap() = true;
    *sheet.locked.lock().unwrap() = true;
    let id = published(&records, VideoStatus::Published).await;
    let r = notify(&records, Some(&mailer), Some(&sheet), &config(), &id)
        .await
        .unwrap();
    assert_eq!(r.deferred.len(), 4, "{r:?}");
    assert!(r
        .deferred
        .iter()
        .any(|(_, why)| why.contains("open elsewhere")));
    let rec = records.get(&id).await.unwrap().unwrap();
    assert!(rec.outbox.iter().all(|d| d.state == DeliveryState::Pending));
    // Only the first email was tried: the server is down for the rest too.
    assert_eq!(rec.outbox.iter().filter(|d| d.attempts > 0).count(), 2);
    *mailer.down.lock().unwrap() = false;
    *sheet.locked.lock().unwrap() = false;
    let later = notify(&records, Some(&mailer), Some(&sheet), &config(), &id)
        .await
        .unwrap();
    assert_eq!(later.sent.len(), 4, "{later:?}");
    assert_eq!(mailer.addresses().len(), 3);
}

#[tokio::test]
async fn a_crash_between_sending_and_recording_repeats_that_email_once_and_says_so() {
    let (records, mailer) = (MemRecords::default(), FakeMailer::default());
    let id = published(&records, VideoStatus::Published).await;
    notify(&records, Some(&mailer), None::<&FakeSheet>, &config(), &id)
        .await
        .unwrap();
    // As a crash after the send would leave it: Ada's email marked sending.
    let mut rec = records.get(&id).await.unwrap().unwrap();
    let ada = rec
        .outbox
        .iter_mut()
        .find(|d| d.target().contains("ada"))
        .unwrap();
    ada.state = DeliveryState::Sending;
    records.update(&rec).await.unwrap();
    let r = notify(&records, Some(&mailer), None::<&FakeSheet>, &config(), &id)
        .await
        .unwrap();
    assert_eq!(r.repeated, vec!["Ada <ada@example.org>"]);
    assert_eq!(r.sent.len(), 1);
    let third = notify(&records, Some(&mailer), None::<&FakeSheet>, &config(), &id)
        .await
        .unwrap();
    assert!(third.sent.is_empty());
    let ada_count = mailer
        .addresses()
        .iter()
        .filter(|a| a.starts_with("ada"))
        .count();
    assert_eq!(ada_count, 2, "the one repeat the crash allows, no more");
}

#[tokio::test]
async fn a_sidecars_catalog_entry_is_written_once_with_the_web_link_after_a_deferral() {
    use crate::catalog::CatalogTarget;
    let (records, sheet) = (MemRecords::default(), FakeSheet::default());
    let id = published(&records, VideoStatus::Published).await;
    let target = CatalogTarget {
        catalog: "s3://meta/dataset.json".into(),
        dataset_id: "INTERNAL_SOS_726".into(),
        start: "2024-01-01T00:00:00Z".into(),
        end: "2024-12-30T00:00:00Z".into(),
    };
    crate::stages::modify_record(&records, &id, |r| {
        r.talk = None;
        r.links = vec!["/out/report.html".into(), "https://vimeo.com/1".into()];
        r.sidecar.as_mut().unwrap().catalog = Some(target.clone());
        Some(())
    })
    .await
    .unwrap();
    let no_mail: Option<&FakeMailer> = None;
    *sheet.locked.lock().unwrap() = true;
    let first = notify(&records, no_mail, Some(&sheet), &config(), &id)
        .await
        .unwrap();
    assert_eq!(first.deferred.len(), 1, "{first:?}");
    assert!(
        first.deferred[0].0.contains("INTERNAL_SOS_726"),
        "{first:?}"
    );
    *sheet.locked.lock().unwrap() = false;
    let second = notify(&records, no_mail, Some(&sheet), &config(), &id)
        .await
        .unwrap();
    assert_eq!(
        second.sent,
        ["dataset INTERNAL_SOS_726 in s3://meta/dataset.json"]
    );
    let third = notify(&records, no_mail, Some(&sheet), &config(), &id)
        .await
        .unwrap();
    assert!(third.sent.is_empty(), "{third:?}");
    let written = sheet.catalog.lock().unwrap().clone();
    assert_eq!(written, [(target, Some("https://vimeo.com/1".to_string()))]);
}

//! The destinations' test world: in-memory platforms that keep every byte they take,
//! with failures to inject, and a talk run until its parts are settled.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::destinations::state::DestinationState;
use crate::destinations::upload::{Extra, Platforms, Readiness, Sent, UploadFailure, UploadItem};
use crate::destinations::{DestinationRequest, Platform};
use crate::fakes::*;
use crate::keys::VideoId;
use crate::ports::ObjectReader;
use crate::record::OutputKind;
use crate::stages::destinations::{publish_to_destinations, DestinationsReport};
use crate::stages::test_world::*;

/// One platform's side: its upload sessions, the videos made, and every byte it took.
#[derive(Default, Debug)]
pub(super) struct Site {
    pub(super) sessions: HashMap<String, (u64, Vec<u8>)>,
    pub(super) videos: Vec<(String, Vec<u8>)>,
    pub(super) starts: u32,
    pub(super) bytes_received: u64,
    pub(super) extras: Vec<(String, Extra)>,
    pub(super) polls: u32,
}

#[derive(Default)]
pub(super) struct FakePlatforms {
    pub(super) store: MemStore,
    pub(super) sites: Mutex<HashMap<Platform, Site>>,
    /// Failures to answer, by platform and step (`start`, `send`, `status`, or the
    /// extra's name).
    pub(super) failures: Mutex<Vec<(Platform, &'static str, UploadFailure)>>,
    /// Answers "processing" this many times before ready.
    pub(super) processing: Mutex<HashMap<Platform, u32>>,
    /// The connection drops after this many chunks, half of the next kept.
    pub(super) drop_after: Mutex<HashMap<Platform, u32>>,
}

pub(super) const CHUNK: usize = 64;

impl FakePlatforms {
    pub(super) fn injected(&self, to: Platform, step: &str) -> Option<UploadFailure> {
        let mut f = self.failures.lock().unwrap();
        let i = f.iter().position(|(p, s, _)| *p == to && *s == step)?;
        Some(f.remove(i).2)
    }
    pub(super) fn fail(&self, to: Platform, step: &'static str, failure: UploadFailure) {
        self.failures.lock().unwrap().push((to, step, failure));
    }
    pub(super) fn site<T>(&self, to: Platform, f: impl FnOnce(&mut Site) -> T) -> T {
        f(self.sites.lock().unwrap().entry(to).or_default())
    }
}

impl Platforms for FakePlatforms {
    async fn start(
        &self,
        request: &DestinationRequest,
        item: &UploadItem,
    ) -> Result<String, UploadFailure> {
        if let Some(f) = self.injected(request.to, "start") {
            return Err(f);
        }
        Ok(self.site(request.to, |s| {
            s.starts += 1;
            let session = format!("{}-session-{}", request.to.name(), s.starts);
            s.sessions.insert(session.clone(), (item.bytes, Vec::new()));
            session
        }))
    }

    async fn send(
        &self,
        request: &DestinationRequest,
        item: &UploadItem,
        session: &str,
        stop_at: Option<Instant>,
    ) -> Result<Sent, UploadFailure> {
        if let Some(f) = self.injected(request.to, "send") {
            return Err(f);
        }
        let file = self.store.get(&item.key).await.unwrap();
        let mut chunks = 0;
        loop {
            let drop_now = {
                let mut drops = self.drop_after.lock().unwrap();
                match drops.get_mut(&request.to) {
                    Some(0) => {
                        drops.remove(&request.to);
                        true
                    }
                    Some(n) => {
                        *n -= 1;
                        false
                    }
                    None => false,
                }
            };
            let step = self.site(request.to, |s| {
                let Some((total, got)) = s.sessions.get_mut(session) else {
                    return Err(UploadFailure::SessionExpired);
                };
                let (total, from) = (*total, got.len());
                if from as u64 == total {
                    return Ok(None);
                }
                let end = (from + CHUNK).min(file.len());
                let end = if drop_now {
                    from + (end - from) / 2
                } else {
                    end
                };
                got.extend_from_slice(&file[from..end]);
                s.bytes_received += (end - from) as u64;
                Ok(Some(got.len() as u64))
            })?;
            if drop_now {
                return Err(UploadFailure::Transport("connection reset".into()));
            }
            chunks += 1;
            match step {
                None => {
                    return Ok(self.site(request.to, |s| {
                        let got = s.sessions.remove(session).unwrap().1;
                        let id = format!("{}-video-{}", request.to.name(), s.videos.len() + 1);
                        s.videos.push((id.clone(), got));
                        Sent::Complete { platform_id: id }
                    }))
                }
                Some(offset) if stop_at.is_some() && chunks == 1 && offset < item.bytes => {
                    return Ok(Sent::Paused { offset })
                }
                Some(_) => {}
            }
        }
    }

    async fn status(
        &self,
        request: &DestinationRequest,
        platform_id: &str,
    ) -> Result<Readiness, UploadFailure> {
        if let Some(f) = self.injected(request.to, "status") {
            return Err(f);
        }
        self.site(request.to, |s| s.polls += 1);
        let mut processing = self.processing.lock().unwrap();
        if let Some(n) = processing.get_mut(&request.to).filter(|n| **n > 0) {
            *n -= 1;
            return Ok(Readiness::Processing);
        }
        Ok(Readiness::Ready {
            url: format!("https://{}.example/{platform_id}", request.to.name()),
        })
    }

    async fn extra(
        &self,
        request: &DestinationRequest,
        _item: &UploadItem,
        platform_id: &str,
        extra: Extra,
    ) -> Result<(), UploadFailure> {
        if let Some(f) = self.injected(request.to, extra.as_str()) {
            return Err(f);
        }
        self.site(request.to, |s| {
            s.extras.push((platform_id.to_string(), extra))
        });
        Ok(())
    }
}

pub(super) fn file_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// A talk whose sidecar names `publish`, run until its parts are settled, with a
/// 1,000-byte top rendition in `platforms`' store.
pub(super) async fn talk(w: &World, platforms: &FakePlatforms, publish: &str) -> VideoId {
    w.store.insert(
        "uploads/talk.json",
        format!(
            r#"{{"title":"Metrics","speakers":[{{"name":"Ada","email":"ada@x.org"}}],"publish":{publish}}}"#
        )
        .as_bytes(),
    );
    let event = w.upload("uploads/talk.mp4", b"v", Some(media(20.0, true, true)));
    let transcoder = FakeTranscoder::new(&w.store);
    let report = w
        .run_with(&transcoder, event, &crate::stages::IngestOptions::default())
        .await;
    assert!(report.dead_letters.is_empty(), "{:?}", report.dead_letters);
    let id = report.videos[0].clone();
    let mut rows = w.records.rows.lock().unwrap();
    let rec = rows.get_mut(&id).unwrap();
    let top = rec
        .outputs
        .iter_mut()
        .find(|o| o.kind == OutputKind::Rendition)
        .unwrap();
    top.bytes = 1000;
    platforms.store.insert(&top.key, &file_of(1000));
    id
}

pub(super) fn clock_at(t: &AtomicI64) -> impl Fn() -> i64 + Send + Sync + '_ {
    move || t.load(Ordering::SeqCst)
}

pub(super) async fn pass(
    w: &World,
    p: &FakePlatforms,
    id: &VideoId,
    t: &AtomicI64,
) -> DestinationsReport {
    let now = clock_at(t);
    publish_to_destinations(&w.records, p, &w.recorder, id, &now, None)
        .await
        .unwrap()
}

pub(super) fn state(w: &World, id: &VideoId, index: usize) -> DestinationState {
    w.record(id).destinations[index].state.clone()
}

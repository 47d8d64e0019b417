//! Fills an output folder with a library to measure `vidpipe serve` and `vidpipe
//! search` on (`scripts/bench-serve.sh`): N published videos, each with a transcript of
//! a talk of the given length (2.5 words a second, sentences of 8–24 words, words drawn
//! from a 3,000-word vocabulary with Zipf's law, as speech is), a title, tags and a
//! description. Deterministic: the same arguments make the same library.
//!
//! Usage: cargo run --release -p vidpipe-local --example fill_library -- OUT [VIDEOS=1000] [MINUTES=60]

use std::path::PathBuf;

use vidpipe_domain::keys::{self, UploadIdentity, VideoId};
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{Speech, Stage, StageStatus, VideoRecord, VideoStatus};
use vidpipe_domain::transcript::{ItemKind, Transcript, TranscriptItem};
use vidpipe_local::{LocalStore, SqliteRecords};

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Syllables make a vocabulary of pronounceable words; `vocabulary[0]` is the commonest.
fn vocabulary(n: usize) -> Vec<String> {
    const SYLLABLES: [&str; 24] = [
        "ta", "ko", "mi", "ren", "sa", "lo", "vi", "del", "ar", "po", "nu", "ex", "qua", "zo",
        "fen", "ti", "ma", "gor", "lu", "be", "cra", "dio", "ste", "wen",
    ];
    let mut rng = Rng(7);
    (0..n)
        .map(|i| {
            let parts = 1 + (i % 3) + (rng.next() % 2) as usize;
            (0..parts)
                .map(|_| SYLLABLES[(rng.next() % 24) as usize])
                .collect::<String>()
                + &i.to_string()
        })
        .collect()
}

/// A word index drawn with Zipf's law (s = 1) by inverting the harmonic CDF.
fn zipf(rng: &mut Rng, cumulative: &[f64]) -> usize {
    let u = rng.unit() * cumulative[cumulative.len() - 1];
    cumulative.partition_point(|c| *c < u)
}

fn transcript(rng: &mut Rng, words: &[String], cumulative: &[f64], minutes: f64) -> Transcript {
    let total = (minutes * 60.0 * 2.5) as usize;
    let mut items = Vec::with_capacity(total + total / 12);
    let (mut t, mut in_sentence) = (0.0, 0);
    let sentence_len = |rng: &mut Rng| 8 + (rng.next() % 17) as usize;
    let mut target = sentence_len(rng);
    for _ in 0..total {
        items.push(TranscriptItem {
            kind: ItemKind::Pronunciation,
            content: words[zipf(rng, cumulative)].clone(),
            start_s: Some(t),
            end_s: Some(t + 0.3),
            confidence: 0.9,
            speaker: None,
        });
        t += 0.4;
        in_sentence += 1;
        if in_sentence == target {
            items.push(TranscriptItem::punctuation("."));
            (in_sentence, target) = (0, sentence_len(rng));
        }
    }
    Transcript {
        job_name: "bench".into(),
        language_code: Some("en-US".into()),
        items,
        low_confidence: false,
        untimed_text: None,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: fill_library OUT [VIDEOS] [MINUTES]")?,
    );
    let videos: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let minutes: f64 = args.next().map_or(Ok(60.0), |a| a.parse())?;
    let store = LocalStore::open(&out)?;
    let records = SqliteRecords::open(&out.join("vidpipe.db"))?;
    let words = vocabulary(3000);
    let mut cumulative = Vec::with_capacity(words.len());
    let mut sum = 0.0;
    for k in 1..=words.len() {
        sum += 1.0 / k as f64;
        cumulative.push(sum);
    }
    let mut rng = Rng(42);
    for n in 0..videos {
        let sha = format!("bench-{n}");
        let id = VideoId::derive(&UploadIdentity::Content { sha256_hex: &sha });
        let mut record = VideoRecord::new(
            id.clone(),
            &format!("uploads/talk-{n}.mp4"),
            &format!("/talks/talk-{n}.mp4"),
        );
        for stage in Stage::ALL {
            record.set_stage(stage, StageStatus::Done, None);
        }
        record.status = VideoStatus::Published;
        let doc = transcript(&mut rng, &words, &cumulative, minutes);
        let key = keys::PlanKeys::new(&id, 0).transcript_json();
        let path = store.path_of(&key)?;
        std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
        std::fs::write(&path, doc.to_transcribe_json())?;
        record.speech = Some(Speech {
            transcript_key: key,
            word_count: doc.words().count(),
            language_code: Some("en-US".into()),
            mean_confidence: 0.9,
            low_confidence: false,
            keywords: vec![],
            summary: vec![],
            promo: None,
        });
        let title_words: Vec<&str> = (0..5)
            .map(|_| words[zipf(&mut rng, &cumulative)].as_str())
            .collect();
        record.sidecar = Some(vidpipe_domain::sidecar::Sidecar {
            title: Some(format!("Talk {n}: {}", title_words.join(" "))),
            ..Default::default()
        });
        record.description = Some(format!("A talk about {}.", title_words[..3].join(", ")));
        record.hashtags = title_words[3..].iter().map(|w| format!("#{w}")).collect();
        record.created_at_unix_s = 1_700_000_000 + n as u64;
        records.create(&record).await?;
    }
    println!(
        "{videos} videos of {minutes} minutes in {}; common word {:?}, rare word {:?}",
        out.display(),
        words[0],
        words[2000]
    );
    Ok(())
}

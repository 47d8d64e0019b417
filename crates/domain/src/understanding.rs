//! What transcribe-store derives from a transcript: keywords and hashtags, an
//! extractive summary, a description that names the speakers, and the promo plan.
//!
//! Keywords come from YAKE (Campos et al., "YAKE! Keyword extraction from single
//! documents using multiple local features", Information Sciences 509, 2020) as the
//! `keyword_extraction` crate implements it, with the `stop-words` crate's English
//! list. Each keyword is weighted by its rank: the best weighs 1, the n-th 1/n.

use keyword_extraction::yake::{Yake, YakeParams};
use serde::{Deserialize, Serialize};

use crate::transcript::{Sentence, Transcript};

/// Settings of what transcribe-store derives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnderstandingConfig {
    /// Hashtags at most (sidecar tags, then transcript keywords, then visual labels).
    pub max_tags: usize,
    /// Sentences in the description's summary.
    pub summary_sentences: usize,
    /// The promo clip's length to aim for, seconds; never exceeded.
    pub promo_target_s: f64,
    pub promo_max_segments: usize,
}

impl Default for UnderstandingConfig {
    fn default() -> Self {
        UnderstandingConfig {
            max_tags: 10,
            summary_sentences: 2,
            promo_target_s: 30.0,
            promo_max_segments: 4,
        }
    }
}

/// Keywords and key phrases of `text`, best first, with rank weights (1, 1/2, 1/3 …).
pub fn keywords(text: &str, n: usize) -> Vec<(String, f64)> {
    if text.split_whitespace().count() < 3 {
        return Vec::new();
    }
    let stop_words = stop_words::get(stop_words::LANGUAGE::English);
    let yake = Yake::new(YakeParams::WithDefaults(text, &stop_words));
    // YAKE ranks overlapping n-grams ("demonstration talk", "pipe demonstration
    // talk"); a phrase is kept only if it shares no word with a better-ranked one.
    let mut kept: Vec<String> = Vec::new();
    let mut seen_words: Vec<String> = Vec::new();
    for phrase in yake.get_ranked_keywords(n * 4) {
        let words = words_of(&phrase);
        let meaningful = words
            .iter()
            .any(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 3);
        if !meaningful || words.iter().any(|w| seen_words.contains(w)) {
            continue;
        }
        seen_words.extend(words);
        kept.push(phrase);
        if kept.len() == n {
            break;
        }
    }
    kept.into_iter()
        .enumerate()
        .map(|(i, k)| (k, 1.0 / (i + 1) as f64))
        .collect()
}

/// A phrase as a hashtag: `machine learning` → `#MachineLearning`; words already
/// capitalised keep their case (`AWS re:Invent` → `#AWSReInvent`). `None` when
/// nothing alphanumeric is left or it is only digits.
pub fn hashtag(phrase: &str) -> Option<String> {
    let mut tag = String::from("#");
    for word in phrase
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            tag.extend(first.to_uppercase());
            tag.push_str(chars.as_str());
        }
    }
    (tag.len() > 1 && !tag[1..].chars().all(|c| c.is_ascii_digit())).then_some(tag)
}

/// Hashtags from the sidecar's tags, then the transcript's keywords, then the visual
/// labels, without duplicates (compared without case), at most `max`.
pub fn merge_tags(
    sidecar: &[String],
    transcript: &[String],
    labels: &[String],
    max: usize,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for phrase in sidecar.iter().chain(transcript).chain(labels) {
        let Some(tag) = hashtag(phrase) else { continue };
        if !out.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            out.push(tag);
        }
        if out.len() >= max {
            break;
        }
    }
    out
}

/// Names as English writes a list: `A`, `A and B`, `A, B and C`. `None` for none.
pub fn natural_list(names: &[&str]) -> Option<String> {
    match names {
        [] => None,
        [one] => Some(one.to_string()),
        [init @ .., last] => Some(format!("{} and {last}", init.join(", "))),
    }
}

/// `Speaker: A` or `Speakers: A, B and C`; `None` without speakers.
pub fn speakers_line(names: &[&str]) -> Option<String> {
    let list = natural_list(names)?;
    Some(if names.len() == 1 {
        format!("Speaker: {list}")
    } else {
        format!("Speakers: {list}")
    })
}

fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Keyword weight per word of a sentence: the sum of the weights of the keywords it
/// contains (as whole words), divided by its word count.
fn keyword_density(text: &str, keywords: &[(String, f64)]) -> f64 {
    let words = words_of(text);
    if words.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    for (phrase, weight) in keywords {
        let parts = words_of(phrase);
        if parts.is_empty() {
            continue;
        }
        let hits = words
            .windows(parts.len())
            .filter(|w| *w == parts.as_slice())
            .count();
        total += hits as f64 * weight;
    }
    total / words.len() as f64
}

/// The `n` sentences with the most keyword weight (sentences of 5 to 40 words), in
/// the order they were spoken.
pub fn summary(transcript: &Transcript, keywords: &[(String, f64)], n: usize) -> Vec<String> {
    let sentences = transcript.sentences();
    let mut scored: Vec<(usize, f64)> = sentences
        .iter()
        .enumerate()
        .filter(|(_, s)| (5..=40).contains(&words_of(&s.text).len()))
        .map(|(i, s)| {
            (
                i,
                keyword_density(&s.text, keywords) * (words_of(&s.text).len() as f64).sqrt(),
            )
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<usize> = scored.into_iter().take(n).map(|(i, _)| i).collect();
    chosen.sort_unstable();
    chosen
        .into_iter()
        .map(|i| sentences[i].text.clone())
        .collect()
}

/// The description: title, summary, speakers, hashtags, as paragraphs.
pub fn description(
    title: &str,
    summary: &[String],
    speakers: &[&str],
    hashtags: &[String],
) -> String {
    let mut parts = vec![title.trim().to_string()];
    if !summary.is_empty() {
        parts.push(summary.join(" "));
    }
    parts.extend(speakers_line(speakers));
    if !hashtags.is_empty() {
        parts.push(hashtags.join(" "));
    }
    parts.retain(|p| !p.is_empty());
    parts.join("\n\n")
}

/// One part of the promo clip, in seconds from the clip's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromoSegment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
}

/// The promo clip: 1 to `promo_max_segments` segments in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromoPlan {
    pub segments: Vec<PromoSegment>,
}

impl PromoPlan {
    pub fn duration_s(&self) -> f64 {
        self.segments.iter().map(|s| s.end_s - s.start_s).sum()
    }
}

/// Chooses the promo: whole sentences outside the fades (`fade_in_end_s` to
/// `fade_out_start_s`, clip seconds), best keyword density first, as long as the total
/// stays within `promo_target_s` and the segments (consecutive sentences joined) within
/// `promo_max_segments`. Each segment is cut on sentence boundaries, widened by up to
/// 0.2 s before and 0.3 s after into the pauses around it. `None` when no sentence fits.
pub fn promo_plan(
    transcript: &Transcript,
    keywords: &[(String, f64)],
    fade_in_end_s: f64,
    fade_out_start_s: f64,
    config: &UnderstandingConfig,
) -> Option<PromoPlan> {
    let sentences = transcript.sentences();
    let bounds = |i: usize| -> (f64, f64) {
        let s: &Sentence = &sentences[i];
        let before = if i == 0 {
            fade_in_end_s
        } else {
            sentences[i - 1].end_s
        };
        let after = sentences.get(i + 1).map_or(fade_out_start_s, |n| n.start_s);
        (
            (s.start_s - 0.2)
                .max(before.min(s.start_s))
                .max(fade_in_end_s),
            (s.end_s + 0.3)
                .min(after.max(s.end_s))
                .min(fade_out_start_s),
        )
    };
    let mut candidates: Vec<(usize, f64)> = (0..sentences.len())
        .filter(|&i| {
            let s = &sentences[i];
            s.start_s >= fade_in_end_s && s.end_s <= fade_out_start_s && s.end_s - s.start_s >= 1.0
        })
        .map(|i| (i, keyword_density(&sentences[i].text, keywords)))
        .collect();
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

    let mut chosen: Vec<usize> = Vec::new();
    let mut total_s = 0.0;
    for (i, _) in candidates {
        let (start, end) = bounds(i);
        if total_s + (end - start) > config.promo_target_s {
            continue;
        }
        let mut trial = chosen.clone();
        trial.push(i);
        trial.sort_unstable();
        if runs(&trial).len() > config.promo_max_segments {
            continue;
        }
        chosen = trial;
        total_s += end - start;
    }
    if chosen.is_empty() {
        return None;
    }
    let segments = runs(&chosen)
        .into_iter()
        .map(|run| {
            let (start_s, _) = bounds(run[0]);
            let (_, end_s) = bounds(run[run.len() - 1]);
            let text = run
                .iter()
                .map(|&i| sentences[i].text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            PromoSegment {
                start_s,
                end_s,
                text,
            }
        })
        .collect();
    Some(PromoPlan { segments })
}

/// Sorted indices grouped into runs of consecutive numbers.
fn runs(sorted: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    for &i in sorted {
        match out.last_mut() {
            Some(run) if run.last() == Some(&(i - 1)) && i > 0 => run.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TALK: &str = "Welcome to this talk about machine learning in production. \
        Today we measure what matters. Machine learning models drift when the data changes, \
        so monitoring machine learning systems is essential. The weather was nice yesterday. \
        We will look at three examples of model monitoring from real projects. \
        Good metrics tell a team where it stands. Thank you all for coming.";

    fn spoken(text: &str, _words_per_s: f64, start_s: f64) -> Transcript {
        crate::fakes::spoken(text, start_s)
    }

    #[test]
    fn keywords_of_a_fixed_text() {
        let k = keywords(TALK, 8);
        let names: Vec<&str> = k.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            names
                .iter()
                .any(|k| k.to_lowercase().contains("machine learning")),
            "{names:?}"
        );
        assert!(
            !names
                .iter()
                .any(|k| ["the", "we", "to"].contains(&k.to_lowercase().as_str())),
            "{names:?}"
        );
        assert_eq!(k[0].1, 1.0);
        // No two keyphrases share a word.
        for (i, (a, _)) in k.iter().enumerate() {
            for (b, _) in &k[i + 1..] {
                assert!(
                    words_of(a).iter().all(|w| !words_of(b).contains(w)),
                    "{a} / {b}"
                );
            }
        }
        assert!(keywords("", 5).is_empty() && keywords("uh um", 5).is_empty());
    }

    #[test]
    fn hashtags_are_camel_case_and_deduplicated() {
        assert_eq!(
            hashtag("machine learning").as_deref(),
            Some("#MachineLearning")
        );
        assert_eq!(hashtag("AWS re:Invent").as_deref(), Some("#AWSReInvent"));
        assert_eq!(hashtag("2024"), None);
        assert_eq!(hashtag("!!!"), None);
        let tags = merge_tags(
            &["Machine Learning".into(), "metrics".into()],
            &["machine learning".into(), "model drift".into()],
            &["Person".into()],
            10,
        );
        assert_eq!(
            tags,
            vec!["#MachineLearning", "#Metrics", "#ModelDrift", "#Person"]
        );
        assert_eq!(
            merge_tags(&["a b".into(), "c".into(), "d".into()], &[], &[], 2).len(),
            2
        );
    }

    #[test]
    fn speaker_lists_for_none_one_two_and_more() {
        assert_eq!(speakers_line(&[]), None);
        assert_eq!(speakers_line(&["Ada"]).as_deref(), Some("Speaker: Ada"));
        assert_eq!(
            speakers_line(&["Ada", "Grace"]).as_deref(),
            Some("Speakers: Ada and Grace")
        );
        assert_eq!(
            speakers_line(&["Ada", "Grace", "Alan"]).as_deref(),
            Some("Speakers: Ada, Grace and Alan")
        );
        assert_eq!(
            speakers_line(&["A", "B", "C", "D"]).as_deref(),
            Some("Speakers: A, B, C and D")
        );
    }

    #[test]
    fn description_has_title_summary_speakers_and_hashtags() {
        let t = spoken(TALK, 2.5, 4.0);
        let k = keywords(&t.text(), 10);
        let s = summary(&t, &k, 2);
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|x| !x.contains("weather")), "{s:?}");
        let d = description("Right metrics", &s, &["Ada", "Grace"], &["#Metrics".into()]);
        let paragraphs: Vec<&str> = d.split("\n\n").collect();
        assert_eq!(paragraphs[0], "Right metrics");
        assert_eq!(paragraphs[2], "Speakers: Ada and Grace");
        assert_eq!(paragraphs[3], "#Metrics");
        assert_eq!(description("T", &[], &[], &[]), "T");
    }

    #[test]
    fn promo_stays_within_its_length_on_sentence_boundaries_outside_the_fades() {
        let t = spoken(&[TALK, TALK, TALK].join(" "), 2.5, 1.0);
        let k = keywords(&t.text(), 10);
        let sentences = t.sentences();
        let clip_end = sentences.last().unwrap().end_s + 2.0;
        let config = UnderstandingConfig {
            promo_target_s: 30.0,
            ..Default::default()
        };
        let plan = promo_plan(&t, &k, 3.0, clip_end - 3.0, &config).unwrap();
        assert!(
            plan.duration_s() <= 30.0 + 1e-9 && plan.duration_s() > 15.0,
            "{plan:?}"
        );
        assert!((1..=4).contains(&plan.segments.len()), "{plan:?}");
        for seg in &plan.segments {
            assert!(seg.start_s >= 3.0 && seg.end_s <= clip_end - 3.0, "{seg:?}");
            // Starts just before a sentence's first word and ends just after a last one.
            assert!(
                sentences
                    .iter()
                    .any(|s| (s.start_s - seg.start_s) >= 0.0
                        && (s.start_s - seg.start_s) <= 0.2 + 1e-9),
                "{seg:?}"
            );
            assert!(
                sentences
                    .iter()
                    .any(|s| (seg.end_s - s.end_s) >= 0.0 && (seg.end_s - s.end_s) <= 0.3 + 1e-9),
                "{seg:?}"
            );
        }
        assert!(plan.segments.windows(2).all(|w| w[0].end_s <= w[1].start_s));
        assert!(
            !plan.segments.iter().any(|s| s.text.contains("weather")),
            "{plan:?}"
        );
        let short = UnderstandingConfig {
            promo_target_s: 2.0,
            ..Default::default()
        };
        assert_eq!(promo_plan(&t, &k, 3.0, clip_end - 3.0, &short), None);
        let empty = Transcript { items: vec![], ..t };
        assert_eq!(promo_plan(&empty, &k, 3.0, 60.0, &config), None);
    }
}

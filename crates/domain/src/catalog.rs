//! The dataset catalog: a JSON document a science team keeps (locally or on S3) with
//! one entry per dataset. After a new movie of a dataset is published, its entry gets
//! the period the movie covers (`startTime`, `endTime`, ISO 8601 UTC) and the link
//! (`dataLink`). Every other field, the order of the keys and the file's indentation
//! are kept.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

/// A dataset's entry to update once its movie is published: the sidecar's `catalog`
/// (written by a time-lapse run), carried out by the notify stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogTarget {
    /// The catalog: a JSON file path, or `s3://bucket/key`.
    pub catalog: String,
    /// The dataset's `id` there.
    pub dataset_id: String,
    /// `startTime`: the period's first frame, ISO 8601 UTC.
    pub start: String,
    /// `endTime`: the period's last frame, ISO 8601 UTC.
    pub end: String,
}

impl CatalogTarget {
    /// The update for this entry: the period, and `link` as `dataLink` when there is
    /// one.
    pub fn update(&self, link: Option<&str>) -> CatalogUpdate {
        CatalogUpdate {
            start: Some(self.start.clone()),
            end: Some(self.end.clone()),
            link: link.map(str::to_string),
        }
    }
}

/// What to set on a dataset's entry; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogUpdate {
    /// `startTime`: ISO 8601, UTC (`2024-02-26T19:00:00Z`).
    pub start: Option<String>,
    /// `endTime`: ISO 8601, UTC.
    pub end: Option<String>,
    /// `dataLink`: the published video's URL.
    pub link: Option<String>,
}

#[derive(Debug, Clone, Error, PartialEq)]
pub enum CatalogError {
    #[error("{catalog}: not a JSON document: {reason}")]
    NotJson { catalog: String, reason: String },
    #[error("{catalog}: no dataset with id {id:?} (ids there: {known})")]
    NoDataset {
        catalog: String,
        id: String,
        known: String,
    },
    #[error("{catalog}: {reason}")]
    BadShape { catalog: String, reason: String },
}

/// A time for the catalog, as `YYYY-MM-DDTHH:MM:SSZ`: from a date (`2024-02-26`,
/// midnight), or a date and time with `Z`, `+00:00` or no zone (taken as UTC),
/// seconds and fractions optional (fractions dropped).
///
/// # Errors
/// A sentence naming the text and what is wrong (not a date, out of range, an offset
/// other than UTC).
pub fn iso8601_utc(text: &str) -> Result<String, String> {
    let bad = |why: &str| format!("{text:?}: {why} (ISO 8601 in UTC: 2024-02-26T19:00:00Z)");
    let t = text.trim();
    let (date, time) = t.split_once(['T', ' ']).unwrap_or((t, ""));
    let number = |s: &str, digits: usize| -> Result<u32, String> {
        if s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map_err(|_| bad("not a number"))
        } else {
            Err(bad("not a date and time"))
        }
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad("not a date"));
    };
    let (year, month, day) = (number(y, 4)?, number(m, 2)?, number(d, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day == 0 || day > days[month as usize - 1] {
        return Err(bad("no such date"));
    }
    let clock = time
        .strip_suffix('Z')
        .or_else(|| time.strip_suffix("+00:00"))
        .or_else(|| time.strip_suffix("-00:00"))
        .unwrap_or(time);
    if clock.contains(['+', '-']) {
        return Err(bad("give the time in UTC (Z)"));
    }
    let clock = clock.split('.').next().unwrap_or_default();
    let fields: Vec<&str> = if clock.is_empty() {
        vec![]
    } else {
        clock.split(':').collect()
    };
    let (h, mi, sec) = match fields.as_slice() {
        [] => (0, 0, 0),
        [h, mi] => (number(h, 2)?, number(mi, 2)?, 0),
        [h, mi, sec] => (number(h, 2)?, number(mi, 2)?, number(sec, 2)?),
        _ => return Err(bad("not a time of day")),
    };
    if h > 23 || mi > 59 || sec > 60 {
        return Err(bad("no such time of day"));
    }
    Ok(format!(
        "{year:04}-{month:02}-{day:02}T{h:02}:{mi:02}:{sec:02}Z"
    ))
}

/// The document with `id`'s entry updated, laid out as the original was (its indent
/// unit, a trailing newline if it had one), or `None` when the entry holds these
/// values already. The entry is found in a top-level list, in `{"datasets": [...]}`, or
/// as the single object the document is.
///
/// # Errors
/// [`CatalogError::NotJson`]; [`CatalogError::NoDataset`] naming the ids there are;
/// [`CatalogError::BadShape`] for a document of none of the three shapes.
pub fn set_entry(
    catalog: &str,
    document: &[u8],
    id: &str,
    update: &CatalogUpdate,
) -> Result<Option<Vec<u8>>, CatalogError> {
    let text = std::str::from_utf8(document).map_err(|e| CatalogError::NotJson {
        catalog: catalog.to_string(),
        reason: e.to_string(),
    })?;
    let mut doc: Value = serde_json::from_str(text).map_err(|e| CatalogError::NotJson {
        catalog: catalog.to_string(),
        reason: e.to_string(),
    })?;
    let entries: Vec<&mut Map<String, Value>> = match &mut doc {
        Value::Array(list) => list.iter_mut().filter_map(Value::as_object_mut).collect(),
        Value::Object(o) if o.get("datasets").is_some_and(Value::is_array) => o
            .get_mut("datasets")
            .and_then(Value::as_array_mut)
            .map(|l| l.iter_mut().filter_map(Value::as_object_mut).collect())
            .unwrap_or_default(),
        Value::Object(o) => vec![o],
        _ => {
            return Err(CatalogError::BadShape {
                catalog: catalog.to_string(),
                reason: "neither a list of datasets, {\"datasets\": [...]}, nor one dataset object"
                    .into(),
            })
        }
    };
    let id_of = |e: &Map<String, Value>| match e.get("id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let known: Vec<String> = entries.iter().filter_map(|e| id_of(e)).collect();
    let Some(entry) = entries
        .into_iter()
        .find(|e| id_of(e).as_deref() == Some(id))
    else {
        return Err(CatalogError::NoDataset {
            catalog: catalog.to_string(),
            id: id.to_string(),
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        });
    };
    let mut changed = false;
    for (field, value) in [
        ("startTime", &update.start),
        ("endTime", &update.end),
        ("dataLink", &update.link),
    ] {
        if let Some(v) = value {
            let new = Value::String(v.clone());
            if entry.get(field) != Some(&new) {
                entry.insert(field.to_string(), new);
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(None);
    }
    Ok(Some(write_like(text, &doc)))
}

/// `doc` serialised with the indent unit of `original` (two spaces, four, a tab, or
/// none for a one-line document) and its trailing newline.
fn write_like(original: &str, doc: &Value) -> Vec<u8> {
    let indent: String = original
        .lines()
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take_while(|c| *c == ' ' || *c == '\t').collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    if indent.is_empty() && original.trim().lines().count() <= 1 {
        // One line in, one line out.
        let _ = serde_json::to_writer(&mut out, doc);
    } else {
        let unit = if indent.is_empty() {
            "  ".to_string()
        } else {
            indent
        };
        let formatter = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        let _ = serde::Serialize::serialize(doc, &mut ser);
    }
    if original.ends_with('\n') {
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update() -> CatalogUpdate {
        CatalogUpdate {
            start: Some("2024-02-01T00:00:00Z".into()),
            end: Some("2024-02-26T19:00:00Z".into()),
            link: Some("https://vimeo.com/12345".into()),
        }
    }

    #[test]
    fn sets_the_three_fields_and_keeps_every_other_field_in_its_order_and_layout() {
        let doc = "{\n    \"datasets\": [\n        {\n            \"id\": \"pw\",\n            \"zeta\": 1,\n            \"alpha\": [1, 2],\n            \"endTime\": \"old\"\n        },\n        {\n            \"id\": \"sst\"\n        }\n    ],\n    \"version\": 3\n}\n";
        let out = set_entry("c.json", doc.as_bytes(), "pw", &update())
            .unwrap()
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\n    \"datasets\": [\n        {\n            \"id\": \"pw\",\n            \"zeta\": 1,"), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let pw = &v["datasets"][0];
        assert_eq!(pw["endTime"], "2024-02-26T19:00:00Z");
        assert_eq!(pw["startTime"], "2024-02-01T00:00:00Z");
        assert_eq!(pw["dataLink"], "https://vimeo.com/12345");
        assert_eq!(pw["alpha"], serde_json::json!([1, 2]));
        assert_eq!(v["datasets"][1], serde_json::json!({"id": "sst"}));
        assert_eq!(v["version"], 3);
        let keys: Vec<&String> = pw.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["id", "zeta", "alpha", "endTime", "startTime", "dataLink"]
        );
        // The same update again changes nothing.
        assert_eq!(
            set_entry("c.json", text.as_bytes(), "pw", &update()).unwrap(),
            None
        );
    }

    #[test]
    fn times_are_written_in_utc_and_bad_ones_say_why() {
        assert_eq!(iso8601_utc("2024-02-26").unwrap(), "2024-02-26T00:00:00Z");
        assert_eq!(
            iso8601_utc("2024-02-29T19:00Z").unwrap(),
            "2024-02-29T19:00:00Z"
        );
        assert_eq!(
            iso8601_utc("2024-02-26T19:00:05.250+00:00").unwrap(),
            "2024-02-26T19:00:05Z"
        );
        assert!(iso8601_utc("2023-02-29")
            .unwrap_err()
            .contains("no such date"));
        assert!(iso8601_utc("2024-02-26T19:00:00+02:00")
            .unwrap_err()
            .contains("UTC"));
        assert!(iso8601_utc("yesterday").is_err());
        assert!(iso8601_utc("2024-02-26T25:00Z").is_err());
    }

    #[test]
    fn a_top_level_list_and_a_single_object_are_catalogs_too() {
        let list = br#"[{"id":"a"},{"id":7}]"#;
        let out = set_entry("c", list, "7", &update()).unwrap().unwrap();
        assert!(!out.contains(&b'\n'), "a one-line catalog stays one line");
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[1]["dataLink"], "https://vimeo.com/12345");
        let single = b"{\n\t\"id\": \"a\"\n}";
        let out =
            String::from_utf8(set_entry("c", single, "a", &update()).unwrap().unwrap()).unwrap();
        assert!(out.contains("\n\t\"startTime\""), "{out}");
        assert!(!out.ends_with('\n'));
    }

    #[test]
    fn a_missing_id_and_a_document_that_is_not_json_are_clear_errors() {
        let err = set_entry(
            "c.json",
            br#"{"datasets":[{"id":"a"},{"id":"b"}]}"#,
            "z",
            &update(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.json: no dataset with id \"z\" (ids there: a, b)"
        );
        let err = set_entry("c.json", b"<html>", "a", &update()).unwrap_err();
        assert!(matches!(err, CatalogError::NotJson { .. }), "{err}");
        assert!(matches!(
            set_entry("c", b"42", "a", &update()).unwrap_err(),
            CatalogError::BadShape { .. }
        ));
    }
}

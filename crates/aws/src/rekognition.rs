//! Frame analysis with Amazon Rekognition: the local image measures (sharpness,
//! exposure, contrast: [`vidpipe_domain::cover`]) on the capture's pixels, plus
//! DetectLabels and DetectFaces on the object in S3.
//!
//! The detection bonus added to a frame's score, documented here because it decides
//! covers: `0.15 × faces present (largest face's confidence ≥ 90%)`
//! `+ 0.10 × (Sharpness + Brightness) / 200 of that face` (Rekognition's FaceDetail
//! Quality, each 0–100) `+ 0.05 × min(labels, 5) / 5`. So a frame with one sharp,
//! well-lit face gains up to 0.25 over an empty one of the same image quality (whose
//! own score runs 0–1), enough to prefer a speaker over a slide, not enough to
//! prefer a blurred face over a sharp slide.

use aws_sdk_rekognition::types::{Attribute, Image, S3Object};
use vidpipe_domain::cover::measure_luma;
use vidpipe_domain::destinations::vertical::FaceBox;
use vidpipe_domain::ports::{FrameAnalysis, FrameAnalyzer, ObjectReader};
use vidpipe_domain::PortError;

use crate::error::port_error;
use crate::s3::S3Store;

/// The SDK client the adapter takes, re-exported for the function binaries.
pub use aws_sdk_rekognition::Client;

/// Labels below this confidence (percent) are not kept.
pub const MIN_LABEL_CONFIDENCE: f32 = 75.0;
pub const MAX_LABELS: i32 = 10;

pub struct RekognitionAnalyzer<'a> {
    pub store: &'a S3Store,
    /// Used for DetectLabels.
    pub labels: aws_sdk_rekognition::Client,
    /// Used for DetectFaces (the same client, except where a test stands in for it).
    pub faces: aws_sdk_rekognition::Client,
}

/// One face as the score reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceQuality {
    pub confidence: f32,
    pub area: f32,
    pub sharpness: f32,
    pub brightness: f32,
}

/// The bonus described in the module docs.
pub fn detection_bonus(faces: &[FaceQuality], label_count: usize) -> f64 {
    let face = faces
        .iter()
        .filter(|f| f.confidence >= 90.0)
        .max_by(|a, b| a.area.total_cmp(&b.area));
    let face_part = face.map_or(0.0, |f| {
        0.15 + 0.10 * ((f.sharpness + f.brightness) as f64 / 200.0).clamp(0.0, 1.0)
    });
    face_part + 0.05 * (label_count.min(5) as f64 / 5.0)
}

impl FrameAnalyzer for RekognitionAnalyzer<'_> {
    async fn analyze(&self, key: &str) -> Result<FrameAnalysis, PortError> {
        let bytes = self.store.get(key).await?;
        let luma = image::load_from_memory(&bytes)
            .map_err(|e| PortError::Invalid(format!("{key}: {e}")))?
            .to_luma8();
        let (w, h) = luma.dimensions();
        let measures = measure_luma(w as usize, h as usize, luma.as_raw());
        let image = || {
            Image::builder()
                .s3_object(
                    S3Object::builder()
                        .bucket(&self.store.bucket)
                        .name(key)
                        .build(),
                )
                .build()
        };
        let labels = self
            .labels
            .detect_labels()
            .image(image())
            .max_labels(MAX_LABELS)
            .min_confidence(MIN_LABEL_CONFIDENCE)
            .send()
            .await
            .map_err(|e| port_error(&format!("rekognition DetectLabels {key}"), e))?;
        let labels: Vec<String> = labels
            .labels
            .unwrap_or_default()
            .into_iter()
            .filter_map(|l| l.name)
            .collect();
        let faces = self
            .faces
            .detect_faces()
            .image(image())
            .attributes(Attribute::Default)
            .send()
            .await
            .map_err(|e| port_error(&format!("rekognition DetectFaces {key}"), e))?;
        let details = faces.face_details.unwrap_or_default();
        let boxes = details
            .iter()
            .filter(|f| f.confidence.unwrap_or(0.0) >= 90.0)
            .filter_map(|f| {
                let b = f.bounding_box.as_ref()?;
                // Rekognition's single-precision ratios, to the millionth (what an f32
                // holds), not the f32's binary tail.
                let ratio = |v: f32| (v as f64 * 1e6).round() / 1e6;
                Some(FaceBox {
                    left: ratio(b.left?),
                    top: ratio(b.top?),
                    width: ratio(b.width?),
                    height: ratio(b.height?),
                })
            })
            .collect();
        let faces: Vec<FaceQuality> = details
            .into_iter()
            .map(|f| FaceQuality {
                confidence: f.confidence.unwrap_or(0.0),
                area: f
                    .bounding_box
                    .map_or(0.0, |b| b.width.unwrap_or(0.0) * b.height.unwrap_or(0.0)),
                sharpness: f.quality.as_ref().and_then(|q| q.sharpness).unwrap_or(0.0),
                brightness: f.quality.as_ref().and_then(|q| q.brightness).unwrap_or(0.0),
            })
            .collect();
        Ok(FrameAnalysis {
            measures,
            detection_bonus: detection_bonus(&faces, labels.len()),
            labels,
            faces: boxes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(confidence: f32, area: f32, q: f32) -> FaceQuality {
        FaceQuality {
            confidence,
            area,
            sharpness: q,
            brightness: q,
        }
    }

    #[test]
    fn a_clear_face_earns_more_than_labels_and_doubtful_faces_nothing() {
        assert_eq!(detection_bonus(&[], 0), 0.0);
        assert!((detection_bonus(&[], 9) - 0.05).abs() < 1e-9);
        assert!((detection_bonus(&[face(99.0, 0.2, 100.0)], 0) - 0.25).abs() < 1e-9);
        assert!((detection_bonus(&[face(50.0, 0.2, 100.0)], 0)).abs() < 1e-9);
        // The largest confident face is the one scored.
        let b = detection_bonus(&[face(99.0, 0.01, 100.0), face(95.0, 0.3, 0.0)], 0);
        assert!((b - 0.15).abs() < 1e-9, "{b}");
    }
}

//! Local frame analysis: decode the capture with the `image` crate and take the
//! domain's luma measures (sharpness, exposure, contrast). No face or label
//! detection locally, so the detection bonus is 0 and there are no labels.

use vidpipe_domain::cover::measure_luma;
use vidpipe_domain::ports::{FrameAnalysis, FrameAnalyzer};
use vidpipe_domain::PortError;

use crate::store::LocalStore;

pub struct ImageAnalyzer<'a> {
    pub store: &'a LocalStore,
}

impl FrameAnalyzer for ImageAnalyzer<'_> {
    async fn analyze(&self, key: &str) -> Result<FrameAnalysis, PortError> {
        let path = self.store.path_of(key)?;
        let image = tokio::task::spawn_blocking(move || image::open(&path).map(|i| i.to_luma8()))
            .await
            .map_err(|e| PortError::Failed(format!("image task: {e}")))?
            .map_err(|e| PortError::Invalid(format!("{key}: {e}")))?;
        let (w, h) = image.dimensions();
        Ok(FrameAnalysis {
            measures: measure_luma(w as usize, h as usize, image.as_raw()),
            detection_bonus: 0.0,
            labels: Vec::new(),
            faces: Vec::new(),
        })
    }
}

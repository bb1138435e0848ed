//! The output folder's files, and reading a saved sweep back. The folder holds report.json (the
//! lean contract) and raw.json.gz (every measurement, gzip-compressed JSON), both written
//! atomically after every point, the raw file first (crate::pipeline's `save`): a bug in
//! analysis can cost the verdict, never the run.
//!
//! [`load`] is the one reader of saved sweeps (`forkcast report`, `forkcast diff`, resume,
//! fuzzing): it takes the folder, its report.json, the raw file itself, or an old-style report.json
//! that still carries the raw records inline.

use crate::error::UsageError;
use crate::measure::Measurements;
use crate::output;
use crate::report::{Status, SCHEMA_VERSION};
use anyhow::Context;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub const REPORT_FILE: &str = "report.json";
pub const RAW_FILE: &str = "raw.json.gz";
pub const SUMMARY_FILE: &str = "summary.txt";
/// The raw file's `format` tag, so a stray .json.gz is not mistaken for one.
const RAW_FORMAT: &str = "forkcast-raw";
/// Largest decompressed raw file accepted: far above any sweep (lab 01's README sweep is a few
/// MB), low enough that a crafted gzip cannot exhaust memory.
const MAX_RAW_BYTES: u64 = 4 << 30;

/// The raw file: everything measured, plus how the sweep ended.
#[derive(Serialize, Deserialize)]
struct RawFile<M> {
    format: String,
    schema_version: u32,
    forkcast_version: String,
    status: Status,
    measurements: M,
}

/// A saved sweep, read back.
#[derive(Debug)]
pub struct Saved {
    pub measurements: Measurements,
    /// How the saved sweep ended (an interrupted sweep stays interrupted on replay).
    pub status: Status,
    /// The file the measurements came from.
    pub source: PathBuf,
    /// `source` is a raw file (else an old-style report.json with the records inline).
    pub from_raw: bool,
}

/// Writes the raw file atomically.
pub fn write_raw(path: &Path, m: &Measurements, status: Status) -> anyhow::Result<()> {
    let raw = RawFile {
        format: RAW_FORMAT.into(),
        schema_version: SCHEMA_VERSION,
        forkcast_version: env!("CARGO_PKG_VERSION").into(),
        status,
        measurements: m,
    };
    // Level 6 (the default) compresses lab 01's ticks about 10x at a few ms per MB.
    // One write of the whole JSON: serde's many small writes each cost the encoder a pass
    // over its output buffer (a third of the save's time, measured with perf on lab 01).
    let json = serde_json::to_vec(&raw)?;
    let mut gz = GzEncoder::new(
        Vec::with_capacity(json.len() / 4),
        flate2::Compression::default(),
    );
    gz.write_all(&json)?;
    let bytes = gz.finish()?;
    output::write_atomic(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The measurements saved at `path` (a folder, its report.json, its raw file, or an old-style
/// report.json with the raw records inline).
pub fn load(path: &Path) -> Result<Measurements, UsageError> {
    load_saved(path).map(|s| s.measurements)
}

/// [`load`], with how the sweep ended and which file was read.
pub fn load_saved(path: &Path) -> Result<Saved, UsageError> {
    let file = locate(path)?;
    let bytes = std::fs::read(&file).map_err(|e| bad_file(&file, &e))?;
    from_bytes(&file, &bytes)
}

/// [`load_saved`] on bytes already read from `file` (a report.json or a raw file; a report
/// that names its raw file reads it beside `file`). The entry point for fuzzing the reader.
pub fn from_bytes(file: &Path, bytes: &[u8]) -> Result<Saved, UsageError> {
    if bytes.is_empty() {
        return Err(not_a_report(file, "it is empty (0 bytes)"));
    }
    let saved = if bytes.starts_with(&[0x1f, 0x8b]) {
        read_raw(file, bytes)?
    } else {
        read_report(file, bytes)?
    };
    if saved.measurements.points.is_empty() {
        return Err(not_a_report(file, "it has no points (no run was measured)"));
    }
    Ok(saved)
}

/// The file to read for `path`: a folder means its report.json, else its raw file.
fn locate(path: &Path) -> Result<PathBuf, UsageError> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    [REPORT_FILE, RAW_FILE]
        .iter()
        .map(|name| path.join(name))
        .find(|p| p.exists())
        .ok_or_else(|| {
            not_a_report(
                path,
                &format!("it is a folder that holds no {REPORT_FILE} or {RAW_FILE}"),
            )
        })
}

/// report.json's fields that say how to read it.
#[derive(Deserialize)]
struct Header {
    schema_version: Option<u32>,
    status: Option<Status>,
    raw: Option<String>,
}

fn read_report(file: &Path, bytes: &[u8]) -> Result<Saved, UsageError> {
    let header: Header = serde_json::from_slice(bytes).map_err(|e| json_error(file, &e))?;
    check_version(file, header.schema_version)?;
    let status = header.status.unwrap_or(Status::Complete);
    let Some(raw) = header.raw else {
        // An old-style report: the raw records are inline, so it reads as the measurements.
        let measurements = serde_json::from_slice(bytes).map_err(|e| json_error(file, &e))?;
        return Ok(Saved {
            measurements,
            status,
            source: file.to_path_buf(),
            from_raw: false,
        });
    };
    if raw.contains('/') || raw.is_empty() || raw == ".." {
        return Err(not_a_report(
            file,
            &format!("its raw file '{raw}' is not a file name beside it"),
        ));
    }
    let raw_path = file.parent().unwrap_or(Path::new(".")).join(&raw);
    let raw_bytes = std::fs::read(&raw_path).map_err(|e| {
        UsageError::MissingRaw(
            file.display().to_string(),
            raw_path.display().to_string(),
            e.to_string(),
        )
    })?;
    read_raw(&raw_path, &raw_bytes)
}

fn read_raw(file: &Path, bytes: &[u8]) -> Result<Saved, UsageError> {
    let mut json = Vec::new();
    GzDecoder::new(bytes)
        .take(MAX_RAW_BYTES)
        .read_to_end(&mut json)
        .map_err(|e| not_a_report(file, &format!("the raw file is truncated or corrupt ({e})")))?;
    // The envelope first, so a newer file says so rather than failing on a field.
    #[derive(Deserialize)]
    struct Envelope {
        format: Option<String>,
        schema_version: Option<u32>,
    }
    let env: Envelope = serde_json::from_slice(&json).map_err(|e| json_error(file, &e))?;
    if env.format.as_deref() != Some(RAW_FORMAT) {
        return Err(not_a_report(file, "it is gzip but not a forkcast raw file"));
    }
    check_version(file, env.schema_version)?;
    let raw: RawFile<Measurements> =
        serde_json::from_slice(&json).map_err(|e| json_error(file, &e))?;
    Ok(Saved {
        measurements: raw.measurements,
        status: raw.status,
        source: file.to_path_buf(),
        from_raw: true,
    })
}

fn check_version(file: &Path, version: Option<u32>) -> Result<(), UsageError> {
    match version {
        None => Err(not_a_report(file, "it has no schema_version")),
        Some(v) if v > SCHEMA_VERSION => Err(UsageError::NewerReport(
            file.display().to_string(),
            v,
            SCHEMA_VERSION,
        )),
        Some(_) => Ok(()),
    }
}

fn json_error(file: &Path, e: &serde_json::Error) -> UsageError {
    let why = if e.is_eof() {
        format!("it is truncated ({e})")
    } else {
        e.to_string()
    };
    not_a_report(file, &why)
}

fn not_a_report(file: &Path, why: &str) -> UsageError {
    UsageError::NotAReport(file.display().to_string(), why.to_string())
}

fn bad_file(file: &Path, e: &std::io::Error) -> UsageError {
    UsageError::UnreadableReport(file.display().to_string(), e.to_string())
}

//! forkcast: runs a command at increasing worker counts, measures the whole process tree, and
//! walks the multiprocessing decision tree with the measured answers.
//!
//! Data flows one way: cli -> plan -> run -> measure -> analyze -> diagnose -> report.

pub mod analyze;
pub mod cli;
pub mod diagnose;
pub mod doctor;
pub mod error;
pub mod measure;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod redact;
pub mod report;
pub mod run;
pub mod saved;
pub mod units;

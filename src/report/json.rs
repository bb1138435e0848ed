//! report.json: the contract, pretty-printed.

use super::{Exporter, Report};

pub struct Json;

impl Exporter for Json {
    fn serialize(&self, report: &Report) -> anyhow::Result<Vec<u8>> {
        let mut out = serde_json::to_vec_pretty(report)?;
        out.push(b'\n');
        Ok(out)
    }
}

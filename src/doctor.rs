//! `forkcast doctor`: what this host and user let forkcast measure, and how to enable the rest.

use crate::run::capability::{self, Capability};
use std::io::Write;

/// Prints one line per capability (what it gives; for a missing one, why and the fix).
pub fn print(out: &mut impl Write) -> std::io::Result<()> {
    let caps = capability::check();
    let uid = crate::run::os::effective_uid();
    let missing = caps.iter().filter(|c| !c.available).count();
    writeln!(
        out,
        "forkcast doctor: what this host lets forkcast measure (uid {uid}; {} of {} available)",
        caps.len() - missing,
        caps.len()
    )?;
    for Capability {
        name,
        available,
        gives,
        fix,
    } in &caps
    {
        let mark = if *available { "yes" } else { "no " };
        writeln!(out, "  {mark}  {name:<20} {gives}")?;
        if !available {
            writeln!(out, "       {:<20} fix: {fix}", "")?;
        }
    }
    if missing > 0 {
        writeln!(
            out,
            "forkcast runs without these: the report says what it could not measure and lowers \
             the confidence of the answers that needed it."
        )?;
    }
    Ok(())
}

//! Draws the plots (SVG and PNG), report.html and trace.json of a saved report into a folder,
//! through the same code as `forkcast run`: for looking at the pictures while changing them.
//!
//!     cargo run --example render_visuals -- saved/report.json /tmp/pictures

use forkcast::cli::TraceScope;
use forkcast::measure::Measurements;
use forkcast::report::{visuals, Report, Status};
use forkcast::{analyze, diagnose};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [saved, out] = args.as_slice() else {
        anyhow::bail!("usage: render_visuals SAVED_REPORT.json OUT_DIR");
    };
    let m: Measurements = serde_json::from_str(&std::fs::read_to_string(saved)?)?;
    let a = analyze::analyze(&m);
    let d = diagnose::diagnose(&m, &a);
    let report = Report::new(&m, &a, &d, Status::Complete);
    std::fs::create_dir_all(out)?;
    let opts = visuals::Options {
        png: true,
        trace: TraceScope::Largest,
    };
    for path in visuals::write(&report, std::path::Path::new(out), opts)? {
        println!("{}", path.display());
    }
    Ok(())
}

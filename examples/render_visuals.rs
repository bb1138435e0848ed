//! Draws the plots (SVG and PNG), report.html and trace.json of a saved report into a folder,
//! through the same code as `forkcast run`: for looking at the pictures while changing them.
//!
//!     cargo run --example render_visuals -- saved/report.json /tmp/pictures [--no-png]

use forkcast::cli::TraceScope;
use forkcast::measure::Measurements;
use forkcast::report::{visuals, Report, Status};
use forkcast::{analyze, diagnose};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (saved, out, png) = match args.as_slice() {
        [saved, out] => (saved, out, true),
        [saved, out, flag] if flag == "--no-png" => (saved, out, false),
        _ => anyhow::bail!("usage: render_visuals SAVED_REPORT.json OUT_DIR [--no-png]"),
    };
    let started = std::time::Instant::now();
    let m: Measurements = serde_json::from_str(&std::fs::read_to_string(saved)?)?;
    let a = analyze::analyze(&m);
    let d = diagnose::diagnose(&m, &a);
    let report = Report::new(&m, &a, &d, Status::Complete);
    std::fs::create_dir_all(out)?;
    let analysed = started.elapsed();
    let opts = visuals::Options {
        png,
        trace: TraceScope::Largest,
    };
    let files = visuals::pictures(&report, opts)?;
    for path in forkcast::pipeline::write_files(std::path::Path::new(out), &files)? {
        println!("{}", path.display());
    }
    eprintln!(
        "read and analysed in {:.3} s, pictures written in {:.3} s",
        analysed.as_secs_f64(),
        (started.elapsed() - analysed).as_secs_f64()
    );
    Ok(())
}

//! Progress on stderr while a sweep runs: an indicatif bar (runs done, elapsed, ETA, the last
//! run) on a terminal; one plain line per run where stderr is a file or a pipe (CI logs).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// How progress is shown.
pub enum Bar {
    /// `--quiet`: nothing.
    Silent,
    /// Not a terminal, or `--json`: one line per run, as they finish.
    Lines,
    /// A live bar on the terminal; finished runs are printed above it.
    Live(ProgressBar),
}

impl Bar {
    /// The bar for a sweep of `runs` runs over `points` points: live only when stderr is a
    /// terminal and neither `--quiet` nor `--json` asked for a quiet stderr.
    pub fn for_sweep(runs: u64, points: usize, quiet: bool, json: bool) -> Bar {
        if quiet {
            return Bar::Silent;
        }
        if json || !std::io::stderr().is_terminal() {
            return Bar::Lines;
        }
        let bar = ProgressBar::with_draw_target(Some(runs), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:24}] {pos}/{len} runs · ETA {eta} · {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(format!("{points} points"));
        // Redraw while a run is in progress, so elapsed time moves.
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar::Live(bar)
    }

    /// One run finished; `line` says which point and run, and its wall time.
    pub fn line(&self, line: &str) {
        match self {
            Bar::Silent => {}
            Bar::Lines => eprintln!("{line}"),
            Bar::Live(bar) => {
                bar.println(line);
                bar.inc(1);
                bar.set_message(format!("last: {line}"));
            }
        }
    }

    /// `--runs auto` added a round of `runs` runs: `line` says why, and the bar grows.
    pub fn round(&self, line: &str, runs: u64) {
        match self {
            Bar::Silent => {}
            Bar::Lines => eprintln!("{line}"),
            Bar::Live(bar) => {
                bar.println(line);
                bar.inc_length(runs);
            }
        }
    }

    /// Clears the bar before the summary is printed.
    pub fn finish(&self) {
        if let Bar::Live(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// An error that ends the sweep early must not leave a half-drawn bar above its message.
impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}

//! `--runs auto` after the first rounds: while some step is undecided (the pipeline's
//! [`Undecided`] names it) and the budget allows, one more interleaved round, one measured run
//! of every point (1, 2, 4, 1, 2, 4, ...), so host drift still slows every point alike. Each
//! added round is recorded with why, before it runs, so a resumed sweep finishes the round it
//! was in and knows how far it got.

use super::sweep::{AutoRuns, Step};
use super::{Ended, Said, Sweeper, Undecided};
use crate::measure::{AddedRound, Measurements, Rounds, RunsMode, Stopped};

/// Without `--max-time`, the added rounds may take twice what the first rounds took: auto at
/// most triples a sweep, and with 3 first rounds (plus a warmup) that is about as many rounds
/// again as the default `--max-runs` 10 allows, so on a steady host max-runs binds first.
const DEFAULT_BUDGET_OF_FIRST_ROUNDS: f64 = 2.0;

/// Adds rounds until every step decided, `--max-runs` is reached, or the next round would
/// pass `--max-time`; records why it stopped.
pub(super) fn add_rounds<F: FnMut(&Measurements) -> anyhow::Result<()>>(
    mut s: Sweeper<'_, F>,
    auto: AutoRuns,
    undecided: Undecided,
) -> anyhow::Result<(Measurements, Ended)> {
    let plan = s.plan;
    let first = plan.warmup + plan.runs;
    let max_time_s = auto.max_time.map_or_else(
        || DEFAULT_BUDGET_OF_FIRST_ROUNDS * wall_s_of(&s.m, 0..first),
        |d| d.as_secs_f64(),
    );
    // A resumed sweep keeps its record: the rounds it added and its budget.
    let mut record = s.m.rounds.take().unwrap_or(Rounds {
        runs_mode: RunsMode::Auto,
        first_rounds: plan.runs,
        max_runs: auto.max_runs,
        max_time_s,
        added: Vec::new(),
        stopped: None,
        still_undecided: Vec::new(),
    });
    loop {
        let counts = s.runs_per_point();
        let fewest = counts.iter().copied().min().unwrap_or(0);
        let measured = fewest.saturating_sub(plan.warmup);
        // A round cut short (by Ctrl-C or a kill, then --resume) is finished first, without
        // asking again: it was asked for and recorded.
        let behind = counts.iter().any(|&c| c > fewest)
            || record.added.last().is_some_and(|r| r.round > measured);
        if !behind {
            let why = undecided(&s.m);
            let spent = wall_s_of(&s.m, first..u32::MAX);
            let next = wall_s_of(&s.m, fewest.saturating_sub(1)..fewest);
            let stop = if why.is_empty() {
                Some(Stopped::Decided)
            } else if measured >= auto.max_runs {
                Some(Stopped::MaxRuns)
            } else if spent + next > max_time_s {
                Some(Stopped::MaxTime)
            } else {
                None
            };
            if let Some(stopped) = stop {
                record.stopped = Some(stopped);
                record.still_undecided = why;
                s.m.rounds = Some(record);
                return Ok((s.m, Ended::Complete));
            }
            let round = measured + 1;
            if let Some(say) = s.progress {
                let line = format!(
                    "round {round} (of {} at most): {}",
                    auto.max_runs,
                    why.join("; ")
                );
                say(Said::Round(&line, counts.len() as u64));
            }
            record.added.push(AddedRound { round, why });
        }
        // The record travels with the runs, so every rewritten report (and a resume) has it.
        s.m.rounds = Some(record.clone());
        for (point, _) in counts.iter().enumerate().filter(|(_, &c)| c == fewest) {
            let step = Step {
                point,
                repetition: fewest,
                warmup: false,
            };
            if let Some(ended) = s.make(&step, "[+]")? {
                return Ok((s.m, ended));
            }
        }
    }
}

/// Wall seconds of every point's runs whose repetition (warmups first) is in `reps`.
fn wall_s_of(m: &Measurements, reps: std::ops::Range<u32>) -> f64 {
    m.points
        .iter()
        .flat_map(|p| p.runs.iter().enumerate())
        .filter(|(i, _)| reps.contains(&(*i as u32)))
        .map(|(_, r)| r.wall_s)
        .sum()
}

//! Expands the parsed flags into every point to run, with argv already substituted, before
//! anything spawns. Bad input is caught here, as a `UsageError`.

use crate::cli::RunArgs;
use crate::error::UsageError;
use crate::redact;
pub use crate::run::sweep::{AutoRuns, Order, Plan, PlannedPoint, ProbeChoice, Step};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// `auto`, `none`, or a comma list of `preload` and `python`.
pub fn parse_probes(spec: &str) -> Result<ProbeChoice, UsageError> {
    let none = ProbeChoice {
        auto: false,
        preload: false,
        python: false,
    };
    match spec.trim() {
        "auto" => {
            return Ok(ProbeChoice {
                auto: true,
                preload: true,
                python: true,
            })
        }
        "none" => return Ok(none),
        _ => {}
    }
    spec.split(',')
        .try_fold(none, |acc, name| match name.trim() {
            "preload" => Ok(ProbeChoice {
                preload: true,
                ..acc
            }),
            "python" => Ok(ProbeChoice {
                python: true,
                ..acc
            }),
            _ => Err(UsageError::BadProbes(spec.to_string())),
        })
}

/// Measured runs per point `--runs auto` makes before it asks whether a step is undecided:
/// today's fixed default, so a workload that decides at once costs no more than it did.
pub const AUTO_FIRST_RUNS: u32 = 3;

/// `--max-runs` by default. The straddling intervals narrow about as 1/sqrt(runs): 10 runs
/// against the first 3 narrow them by about 45 %, which settles a figure a little off its bar,
/// while a figure right on it is left unknown after at most 7 added rounds, not chased.
pub const AUTO_MAX_RUNS: u32 = 10;

/// `--runs auto|N` with `--max-runs` and `--max-time`: the first rounds' measured runs per
/// point, and under auto how far it may add more.
fn parse_runs(args: &RunArgs) -> Result<(u32, Option<AutoRuns>), UsageError> {
    let text = args.runs.trim();
    if text == "auto" {
        let max_runs = args.max_runs.unwrap_or(AUTO_MAX_RUNS);
        if max_runs < AUTO_FIRST_RUNS {
            return Err(UsageError::MaxRunsBelowFirst(max_runs, AUTO_FIRST_RUNS));
        }
        let max_time = args
            .max_time
            .as_deref()
            .map(|t| parse_duration(t).map_err(|_| UsageError::BadMaxTime(t.into())))
            .transpose()?;
        return Ok((AUTO_FIRST_RUNS, Some(AutoRuns { max_runs, max_time })));
    }
    // A budget for rounds that a fixed count never adds is a misunderstanding: say so.
    let budget = [
        args.max_runs.map(|_| "--max-runs"),
        args.max_time.as_ref().map(|_| "--max-time"),
    ];
    if let Some(flag) = budget.into_iter().flatten().next() {
        return Err(UsageError::BudgetWithoutAuto(flag, args.runs.clone()));
    }
    match text.parse::<u32>() {
        Ok(0) => Err(UsageError::ZeroRuns),
        Ok(n) => Ok((n, None)),
        Err(_) => Err(UsageError::BadRuns(args.runs.clone())),
    }
}

/// Builds the plan; `usable_cpus` decides what `--workers auto` means.
pub fn plan(args: &RunArgs, usable_cpus: u32) -> Result<Plan, UsageError> {
    let workers = parse_workers(&args.workers, usable_cpus)?;
    let params = parse_params(&args.params)?;
    let (runs, auto) = parse_runs(args)?;
    if let Some(hz) = args.sample_hz {
        if !(1.0..=1000.0).contains(&hz) {
            return Err(UsageError::BadSampleHz(hz));
        }
    }
    if let Some(name) = &args.workers_env {
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(UsageError::BadEnvName(name.clone()));
        }
    }
    let template = if args.shell {
        vec![args.command.join(" ")]
    } else {
        args.command.clone()
    };
    if template.first().is_none_or(|p| p.trim().is_empty()) {
        return Err(UsageError::EmptyCommand);
    }
    check_placeholders(&template, &params, args.workers_env.is_some())?;
    let timeout = args.timeout.as_deref().map(parse_duration).transpose()?;
    let probes = parse_probes(&args.probes)?;
    let output_cap_bytes = parse_size(&args.output_cap)?;
    let max_processes = args
        .max_processes
        .unwrap_or_else(|| default_max_processes(usable_cpus));
    if max_processes == 0 {
        return Err(UsageError::ZeroMaxProcesses);
    }
    if !args.shell {
        check_program(&template[0])?;
    }
    let output_dir = args.output.clone().unwrap_or_else(default_output_dir);
    check_output_dir(&output_dir)?;

    let mut points = Vec::new();
    for combo in param_grid(&params) {
        for &n in &workers {
            let mut values = combo.clone();
            values.insert("workers".to_string(), n.to_string());
            let substituted: Vec<String> =
                template.iter().map(|a| substitute(a, &values)).collect();
            values.remove("workers");
            let argv = if args.shell {
                vec!["sh".into(), "-c".into(), substituted[0].clone()]
            } else {
                substituted
            };
            let env = args
                .workers_env
                .iter()
                .map(|name| (name.clone(), n.to_string()))
                .collect();
            points.push(PlannedPoint {
                workers: n,
                params: values,
                argv,
                env,
            });
        }
    }
    Ok(Plan {
        template,
        shell: args.shell,
        params,
        points,
        runs,
        auto,
        warmup: args.warmup,
        timeout,
        sample_hz: args.sample_hz,
        probes,
        goal: args.goal,
        output_dir,
        order: args.order,
        fail_fast: args.fail_fast,
        output_cap_bytes,
        max_processes,
    })
}

/// The default cap on processes tracked at once: 64 per usable CPU, at least 256. A pool has
/// about one worker per core; a tree with dozens of live processes per core is a fork storm,
/// and the sampler's cost per tick grows with every process it sweeps (src/run/sampler/rate.rs).
fn default_max_processes(usable_cpus: u32) -> u32 {
    usable_cpus.saturating_mul(64).max(256)
}

/// `8MiB`, `512KiB`, `1GB`, `100k`, or bare bytes; 0 is refused (nothing would be kept).
pub fn parse_size(text: &str) -> Result<u64, UsageError> {
    let bad = || UsageError::BadOutputCap(text.to_string());
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| bad())?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = value * scale;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// The most worker counts one sweep takes: each is at least one run of the whole workload.
pub const MAX_WORKER_COUNTS: usize = 128;

/// The longest `--timeout`: beyond it a limit is a typo, not a limit.
const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// `{workers}` (or `--workers-env`) must be there, every `-P` name must be used, and a `{name}`
/// that is neither, where it looks meant as one, is named with the fix. Other braces stay the
/// target's own (`python -c "print({})"`, `${HOME}` under `--shell`).
fn check_placeholders(
    template: &[String],
    params: &[(String, Vec<String>)],
    workers_env: bool,
) -> Result<(), UsageError> {
    let uses = |name: &str| template.iter().any(|a| a.contains(&format!("{{{name}}}")));
    let known: Vec<&str> = std::iter::once("workers")
        .chain(params.iter().map(|(n, _)| n.as_str()))
        .collect();
    let unknown = template
        .iter()
        .flat_map(|a| placeholders(a))
        .find(|name| !known.contains(&name.as_str()));
    let has_workers = uses("workers") || workers_env;
    if let Some(name) = &unknown {
        if let Some(near) = known.iter().find(|k| looks_like(name, k)) {
            return Err(UsageError::UnknownPlaceholder(
                name.clone(),
                format!("did you mean {{{near}}}?"),
            ));
        }
        if !has_workers {
            return Err(UsageError::UnknownPlaceholder(
                name.clone(),
                format!(
                    "put {{workers}} where the command takes its worker count (or pass \
                     --workers-env NAME), and add -P {name}=v1,v2 to sweep {{{name}}}"
                ),
            ));
        }
    }
    if !has_workers {
        return Err(UsageError::NoWorkerPlaceholder);
    }
    if let Some((name, _)) = params.iter().find(|(name, _)| !uses(name)) {
        return Err(UsageError::UnusedParam(name.clone()));
    }
    Ok(())
}

/// The `{name}`s in `arg` that could be placeholders: a name like a -P name, not after `$`.
fn placeholders(arg: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = arg;
    let mut prev = None;
    while let Some(open) = rest.find('{') {
        let before = rest[..open].chars().last().or(prev);
        let after = &rest[open + 1..];
        if let Some(close) = after.find('}') {
            let name = &after[..close];
            if before != Some('$') && is_param_name(name) {
                found.push(name.to_string());
            }
        }
        prev = Some('{');
        rest = after;
    }
    found
}

fn is_param_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A typo of `known`: the same name in another case, or within two edits of it.
fn looks_like(name: &str, known: &str) -> bool {
    name.eq_ignore_ascii_case(known) || (known.len() >= 4 && edit_distance(name, known) <= 2)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The program must exist and be executable before any output folder is made. A name without
/// a slash is looked up on PATH, as execvp does (the runner resolves it again to exec it).
fn check_program(program: &str) -> Result<(), UsageError> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &std::path::Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let candidates: Vec<PathBuf> = if program.contains('/') {
        vec![PathBuf::from(program)]
    } else {
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .collect()
    };
    if candidates.iter().any(|p| executable(p)) {
        return Ok(());
    }
    if let Some(file) = candidates.iter().find(|p| p.is_file()) {
        return Err(UsageError::NotExecutable(file.display().to_string()));
    }
    if program.contains('/') && candidates[0].is_dir() {
        return Err(UsageError::CommandIsFolder(program.to_string()));
    }
    if program.starts_with('-') {
        return Err(UsageError::UnknownFlag(program.to_string()));
    }
    Err(UsageError::CommandNotFound(program.to_string()))
}

/// `-o DIR` must be (or be creatable as) a folder: neither it nor a parent may be a file.
pub fn check_output_dir(dir: &std::path::Path) -> Result<(), UsageError> {
    let file = dir
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .find(|a| a.exists() || a.is_symlink())
        .filter(|a| !a.is_dir());
    match file {
        Some(f) => Err(UsageError::OutputIsFile(
            dir.display().to_string(),
            f.display().to_string(),
        )),
        None => Ok(()),
    }
}

/// `1,2,4`, `1..8`, `2..16:2` or `auto`; sorted, deduplicated, never 0.
pub fn parse_workers(spec: &str, usable_cpus: u32) -> Result<Vec<u32>, UsageError> {
    let bad = || UsageError::BadWorkers(spec.to_string());
    let mut counts: Vec<u32> = if spec.trim() == "auto" {
        auto_workers(usable_cpus)
    } else if let Some((lo, rest)) = spec.split_once("..") {
        let (hi, step) = rest.split_once(':').unwrap_or((rest, "1"));
        let (lo, hi, step): (u32, u32, u32) = (
            lo.trim().parse().map_err(|_| bad())?,
            hi.trim()
                .trim_start_matches('=')
                .parse()
                .map_err(|_| bad())?,
            step.trim().parse().map_err(|_| bad())?,
        );
        if lo > hi || step == 0 {
            return Err(bad());
        }
        let n = u64::from(hi - lo) / u64::from(step) + 1;
        if n > MAX_WORKER_COUNTS as u64 {
            return Err(UsageError::TooManyWorkerCounts(
                spec.into(),
                n,
                MAX_WORKER_COUNTS,
            ));
        }
        (lo..=hi).step_by(step as usize).collect()
    } else {
        spec.split(',')
            .map(|s| s.trim().parse::<u32>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?
    };
    if counts.contains(&0) {
        return Err(UsageError::ZeroWorkers);
    }
    counts.sort_unstable();
    counts.dedup();
    if counts.is_empty() {
        return Err(bad());
    }
    if counts.len() > MAX_WORKER_COUNTS {
        return Err(UsageError::TooManyWorkerCounts(
            spec.into(),
            counts.len() as u64,
            MAX_WORKER_COUNTS,
        ));
    }
    Ok(counts)
}

/// Powers of two up to twice the usable cores, plus the core count and its double.
fn auto_workers(cores: u32) -> Vec<u32> {
    let cores = cores.max(1);
    let mut counts: Vec<u32> = std::iter::successors(Some(1u32), |n| n.checked_mul(2))
        .take_while(|&n| n <= 2 * cores)
        .collect();
    counts.extend([cores, 2 * cores]);
    counts
}

fn parse_params(raw: &[String]) -> Result<Vec<(String, Vec<String>)>, UsageError> {
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for p in raw {
        let (name, values) = p
            .split_once('=')
            .ok_or_else(|| UsageError::BadParam(redact::text(p)))?;
        let name = name.trim();
        let values: Vec<String> = values.split(',').map(str::to_string).collect();
        if name == "workers" {
            return Err(UsageError::ReservedParam);
        }
        if !is_param_name(name) || values.iter().any(String::is_empty) {
            return Err(UsageError::BadParam(redact::text(p)));
        }
        if params.iter().any(|(n, _)| n == name) {
            return Err(UsageError::DuplicateParam(name.to_string()));
        }
        let repeated = (1..values.len()).find(|&i| values[..i].contains(&values[i]));
        if let Some(i) = repeated {
            return Err(UsageError::RepeatedValue(
                name.to_string(),
                redact::text(&values[i]),
            ));
        }
        params.push((name.to_string(), values));
    }
    Ok(params)
}

/// Every combination of parameter values, first parameter varying slowest.
fn param_grid(params: &[(String, Vec<String>)]) -> Vec<BTreeMap<String, String>> {
    params
        .iter()
        .fold(vec![BTreeMap::new()], |acc, (name, values)| {
            acc.iter()
                .flat_map(|combo| {
                    values.iter().map(move |v| {
                        let mut c = combo.clone();
                        c.insert(name.clone(), v.clone());
                        c
                    })
                })
                .collect()
        })
}

/// Replaces `{name}` for every known name; other braces are left alone (`python -c "{}"`).
fn substitute(arg: &str, values: &BTreeMap<String, String>) -> String {
    values.iter().fold(arg.to_string(), |s, (name, value)| {
        s.replace(&format!("{{{name}}}"), value)
    })
}

/// `30s`, `500ms`, `2m`, `1h`, or bare seconds (`1.5`).
pub fn parse_duration(text: &str) -> Result<Duration, UsageError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| UsageError::BadTimeout(text.into()))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(UsageError::BadTimeout(text.into())),
    };
    let secs = value * scale;
    if secs == 0.0 {
        return Err(UsageError::ZeroTimeout(text.into()));
    }
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d <= MAX_TIMEOUT => Ok(d),
        _ => Err(UsageError::HugeTimeout(text.into())),
    }
}

/// `forkcast-out/YYYYmmdd-HHMMSS` (UTC), unique enough for one user at a time.
fn default_output_dir() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let stamp = format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    PathBuf::from("forkcast-out").join(stamp)
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian, UTC).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_lists_ranges_and_auto() {
        assert_eq!(parse_workers("4,1,2,2", 2).unwrap(), vec![1, 2, 4]);
        assert_eq!(parse_workers("1..4", 2).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(parse_workers("2..8:2", 2).unwrap(), vec![2, 4, 6, 8]);
        assert_eq!(parse_workers("auto", 2).unwrap(), vec![1, 2, 4]);
        assert_eq!(parse_workers("auto", 6).unwrap(), vec![1, 2, 4, 6, 8, 12]);
        assert_eq!(parse_workers("auto", 16).unwrap(), vec![1, 2, 4, 8, 16, 32]);
        assert!(matches!(
            parse_workers("0,1", 2),
            Err(UsageError::ZeroWorkers)
        ));
        assert!(matches!(
            parse_workers("a,b", 2),
            Err(UsageError::BadWorkers(_))
        ));
        assert!(matches!(
            parse_workers("4..1", 2),
            Err(UsageError::BadWorkers(_))
        ));
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn placeholders_are_substituted_inside_arguments_only_by_known_names() {
        let values = BTreeMap::from([("workers".to_string(), "4".to_string())]);
        assert_eq!(substitute("--jobs={workers}", &values), "--jobs=4");
        assert_eq!(substitute("print({})", &values), "print({})");
    }

    #[test]
    fn only_braces_that_look_like_names_are_placeholders() {
        assert_eq!(
            placeholders("--n={workers} ${HOME} {} {1} {a b}"),
            vec!["workers"]
        );
        assert_eq!(placeholders("{{mode}}"), vec!["mode"]);
        assert!(looks_like("worker", "workers") && looks_like("WORKERS", "workers"));
        assert!(!looks_like("x", "workers") && !looks_like("size", "mode"));
        let t = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(
            check_placeholders(&t(&["python", "-c", "print({x})", "{workers}"]), &[], false)
                .is_ok()
        );
        assert!(matches!(
            check_placeholders(&t(&["run", "{wrkers}"]), &[], false),
            Err(UsageError::UnknownPlaceholder(..))
        ));
    }

    #[test]
    fn the_grid_is_params_times_workers() {
        let params = parse_params(&["mode=a,b".into(), "size=1,2,3".into()]).unwrap();
        assert_eq!(param_grid(&params).len(), 6);
        assert!(matches!(
            parse_params(&["mode=a".into(), "mode=b".into()]),
            Err(UsageError::DuplicateParam(_))
        ));
        assert!(matches!(
            parse_params(&["mode".into()]),
            Err(UsageError::BadParam(_))
        ));
    }

    #[test]
    fn probes_are_auto_none_or_a_list() {
        assert!(parse_probes("auto").unwrap().auto);
        let none = parse_probes("none").unwrap();
        assert!(!none.preload && !none.python && !none.auto);
        let py = parse_probes("python").unwrap();
        assert!(py.python && !py.preload && !py.auto);
        assert!(parse_probes("preload,python").unwrap().preload);
        assert!(matches!(parse_probes("gdb"), Err(UsageError::BadProbes(_))));
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("8MiB").unwrap(), 8 << 20);
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("1GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("8 parsecs").is_err());
    }

    fn plan_of(extra: &[&str]) -> Plan {
        use clap::Parser;
        let mut argv = vec!["forkcast", "run", "-w", "1,2,4", "--warmup", "1"];
        if !extra.contains(&"--runs") {
            argv.extend_from_slice(&["--runs", "2"]);
        }
        argv.extend_from_slice(extra);
        // A real program: plan() checks that it exists.
        argv.extend_from_slice(&["--", "sh", "-c", "true", "{workers}"]);
        let cli = crate::cli::Cli::parse_from(argv);
        let crate::cli::Command::Run(args) = cli.command else {
            unreachable!()
        };
        plan(&args, 2).unwrap()
    }

    #[test]
    fn runs_are_interleaved_by_default_with_warmups_first() {
        let order: Vec<(u32, bool)> = plan_of(&[])
            .schedule()
            .iter()
            .map(|s| (plan_of(&[]).points[s.point].workers, s.warmup))
            .collect();
        let w = |n| (n, true);
        let r = |n| (n, false);
        assert_eq!(
            order,
            [w(1), w(2), w(4), r(1), r(2), r(4), r(1), r(2), r(4)]
        );
    }

    #[test]
    fn runs_auto_starts_with_three_runs_and_a_budget_while_runs_n_is_fixed() {
        let fixed = plan_of(&[]);
        assert_eq!((fixed.runs, fixed.auto), (2, None));
        let auto = plan_of(&["--runs", "auto", "--max-runs", "6", "--max-time", "2m"]);
        assert_eq!(auto.runs, AUTO_FIRST_RUNS);
        let budget = AutoRuns {
            max_runs: 6,
            max_time: Some(Duration::from_secs(120)),
        };
        assert_eq!(auto.auto, Some(budget));
        let default = plan_of(&["--runs", "auto"]).auto.unwrap();
        assert_eq!((default.max_runs, default.max_time), (10, None));
    }

    #[test]
    fn the_process_cap_grows_with_the_cores() {
        assert_eq!(plan_of(&[]).max_processes, 256, "2 CPUs: the floor");
        assert_eq!(default_max_processes(16), 1024);
        assert_eq!(plan_of(&["--max-processes", "40"]).max_processes, 40);
    }

    #[test]
    fn sequential_order_finishes_each_point_first() {
        let p = plan_of(&["--order", "sequential"]);
        let order: Vec<(u32, u32)> = p
            .schedule()
            .iter()
            .map(|s| (p.points[s.point].workers, s.repetition))
            .collect();
        assert_eq!(
            order,
            [
                (1, 0),
                (1, 1),
                (1, 2),
                (2, 0),
                (2, 1),
                (2, 2),
                (4, 0),
                (4, 1),
                (4, 2)
            ]
        );
        assert!(p.schedule()[0].warmup && !p.schedule()[1].warmup);
    }

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_417), (2025, 11, 25));
    }
}

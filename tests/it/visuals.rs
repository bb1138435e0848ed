//! The pictures: plots (SVG and PNG), report.html in a real headless Chromium, and trace.json
//! against what the sampler saw.

use crate::support::chromium::{self, inked_share, inked_share_in, Browser};
use crate::support::{python, read_raw, read_report, run_quietly, words, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;

/// A small CPU-bound process pool; the last argument is ignored by the target and exists to
/// put markup on the command line.
const POOL: &str = "import sys, multiprocessing as mp\n\
def work(n):\n    s = 0\n    for i in range(n):\n        s += i * i\n    return s\n\
if __name__ == '__main__':\n    with mp.Pool(int(sys.argv[1])) as p:\n        p.map(work, [200000] * 8)\n";

const MARKUP: &str = "<script>alert(1)</script>";

fn pool_sweep(tag: &str, options: &str) -> (TempDir, Value) {
    let dir = TempDir::new(tag);
    let py = python().display().to_string();
    let target = [py.as_str(), "-c", POOL, "{workers}", MARKUP];
    let out = run_quietly(&dir, &words(options), &target);
    out.expect(out.code == Some(0), "the sweep succeeds");
    let report = read_report(dir.path());
    (dir, report)
}

#[test]
fn a_sweep_writes_every_plot_as_svg_and_png() {
    let (dir, _) = pool_sweep("plots", "-w 1,2 --runs 1 --warmup 0 --png --trace none");
    for (name, title) in [
        ("scaling", "Scaling: speedup against workers"),
        ("efficiency", "Efficiency: speedup per worker added"),
        ("breakdown", "Where the workers"),
        ("accounting", "Where the speedup went"),
        ("timeline", "Timeline: 2 workers"),
    ] {
        let svg = std::fs::read_to_string(dir.join(&format!("{name}.svg")))
            .unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}.svg is an SVG"
        );
        assert!(svg.contains(title), "{name}.svg has its title {title:?}");
        assert!(
            svg.contains("(%)") || svg.contains("(count)") || svg.contains("(×)"),
            "{name}.svg names its units"
        );
        let png = std::fs::read(dir.join(&format!("{name}.png")))
            .unwrap_or_else(|e| panic!("{name}.png: {e}"));
        let ink = inked_share(&png);
        assert!(
            ink > 0.03,
            "{name}.png is drawn, not blank ({:.1} % inked)",
            ink * 100.0
        );
    }
    assert!(
        !dir.join("trace.json").exists(),
        "--trace none writes no trace"
    );
}

#[test]
fn report_html_loads_in_chromium_quietly_and_shows_the_verdict_and_the_plots() {
    let Some(exe) = chromium::find() else { return };
    let (dir, report) = pool_sweep("html", "-w 1,2 --runs 1 --warmup 0 --trace none");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(
        !html.contains(MARKUP),
        "the command's markup is escaped in the file"
    );
    let url = format!("file://{}", dir.join("report.html").display());
    let mut browser = Browser::launch(&exe);
    let page = browser.load(&url, &["recommendation", "plot-scaling"]);
    assert_eq!(
        page.console_errors,
        Vec::<String>::new(),
        "no console errors"
    );
    assert_eq!(
        page.requests,
        vec![url.clone()],
        "the page fetches nothing but itself"
    );
    assert_eq!(
        page.script_elements, 0,
        "the command's <script> is text, not an element"
    );
    assert!(
        page.text.contains(MARKUP),
        "the command line shows as text:\n{}",
        page.text
    );
    let model = report["diagnosis"]["recommendation"]["model"]
        .as_str()
        .expect("a model");
    let text = &page.text;
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("page shows {needle:?}:\n{text}"))
    };
    // The recommendation comes first, then the path, the plots, the table, the host, sources.
    let order = [
        at("Recommendation"),
        at("Decision path"),
        at("Plots"),
        at("Points"),
        at("Host"),
        at("Data sources"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "sections in order: {order:?}"
    );
    assert!(
        text[at("Recommendation")..at("Decision path")].contains(model),
        "the verdict names {model}"
    );
    assert!(
        text.contains("confidence"),
        "the verdict says how sure it is"
    );
    assert!(
        html.contains("<figure id=\"plot-scaling\"><svg"),
        "the scaling plot is inline SVG"
    );
    // The screenshot reaches down to the scaling plot; both it and the verdict are drawn there.
    for (id, rect) in ["recommendation", "plot-scaling"].iter().zip(&page.rects) {
        let rect = rect.unwrap_or_else(|| panic!("the page has #{id}"));
        assert!(
            rect[2] >= 300.0 && rect[3] >= 100.0,
            "#{id} is laid out large enough: {rect:?}"
        );
        let ink = inked_share_in(&page.screenshot_png, Some(rect));
        assert!(
            ink > 0.03,
            "#{id} is drawn in the screenshot ({:.1} % inked)",
            ink * 100.0
        );
    }
    if let Some(keep) = std::env::var_os("FORKCAST_KEEP_SCREENSHOT") {
        std::fs::write(keep, &page.screenshot_png).expect("screenshot saved");
    }
}

/// A recorded sweep's report.html draws the accounting's waterfall: a panel per point, inked.
#[test]
fn report_html_of_a_recording_draws_a_waterfall_per_point() {
    let Some(exe) = chromium::find() else { return };
    let dir = TempDir::new("html-accounting");
    let saved = crate::support::repo_root().join("fixtures/recordings/lab01");
    let out = crate::support::run_forkcast(&[
        "report",
        &saved.display().to_string(),
        "--html",
        "-o",
        &dir.path().display().to_string(),
    ]);
    out.expect(out.code == Some(0), "the recording replays with --html");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(
        html.contains("<figure id=\"plot-accounting\"><svg"),
        "the waterfall is inline SVG"
    );
    // lab01 has four points: a panel titled by each one's workers and params.
    for title in [
        "1 worker · mode=processes",
        "2 workers · mode=processes",
        "1 worker · mode=threads",
        "2 workers · mode=threads",
    ] {
        assert!(html.contains(title), "a panel for {title:?}");
    }
    let url = format!("file://{}", dir.join("report.html").display());
    let mut browser = Browser::launch(&exe);
    let page = browser.load(&url, &["plot-accounting"]);
    assert_eq!(
        page.console_errors,
        Vec::<String>::new(),
        "no console errors"
    );
    let rect = page.rects[0].expect("the page has #plot-accounting");
    assert!(
        rect[2] >= 300.0 && rect[3] >= 200.0,
        "the waterfall is laid out large enough: {rect:?}"
    );
    let ink = inked_share_in(&page.screenshot_png, Some(rect));
    assert!(
        ink > 0.03,
        "the waterfall is drawn in the screenshot ({:.1} % inked)",
        ink * 100.0
    );
}

#[test]
fn the_browser_check_catches_console_errors_and_requests() {
    // The harness itself, on a page that does both: otherwise "no errors" could mean "not looking".
    let Some(exe) = chromium::find() else { return };
    let dir = TempDir::new("html-control");
    let page_path = dir.join("bad.html");
    std::fs::write(
        &page_path,
        "<!doctype html><title>bad</title><img src=\"http://127.0.0.1:9/x.png\">\
         <script>console.error('deliberate')</script><p>text</p>",
    )
    .unwrap();
    let mut browser = Browser::launch(&exe);
    let page = browser.load(&format!("file://{}", page_path.display()), &[]);
    assert!(
        page.console_errors.iter().any(|e| e.contains("deliberate")),
        "{:?}",
        page.console_errors
    );
    assert!(
        page.requests
            .iter()
            .any(|u| u.starts_with("http://127.0.0.1:9/")),
        "{:?}",
        page.requests
    );
    assert_eq!(page.script_elements, 1);
}

#[test]
fn trace_json_has_a_track_per_thread_and_spans_cover_what_the_sampler_saw() {
    let (dir, _) = pool_sweep("trace", "-w 1,2 --runs 1 --warmup 0 --trace all");
    let raw = read_raw(dir.path());
    let trace: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("trace.json")).expect("trace.json"))
            .expect("trace.json is JSON");
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let shown = trace["otherData"]["points"]
        .as_array()
        .expect("otherData.points");
    assert_eq!(shown.len(), 2, "--trace all traces both points");
    let of = |ph: &'static str| events.iter().filter(move |e| e["ph"] == ph);
    assert!(
        of("C").any(|e| e["name"] == "busy cores"),
        "a busy-cores counter track"
    );
    for e in of("X") {
        for key in ["pid", "tid", "ts", "dur", "name"] {
            assert!(!e[key].is_null(), "span without {key}: {e}");
        }
        assert!(e["dur"].as_f64().unwrap() >= 0.0, "{e}");
    }
    for s in shown {
        let (p, r, offset) = (
            s["point_index"].as_u64().unwrap(),
            s["run_index"].as_u64().unwrap(),
            s["pid_offset"].as_i64().unwrap(),
        );
        // The raw sampler record of the traced run.
        let sampled = &raw["points"][p as usize]["runs"][r as usize]["sampled"];
        for proc in sampled["processes"].as_array().expect("processes") {
            let pid = offset + proc["pid"].as_i64().unwrap();
            assert!(
                of("M").any(|e| e["name"] == "process_name" && e["pid"] == pid),
                "process {} has a named track",
                proc["pid"]
            );
            for t in proc["threads"].as_array().unwrap() {
                let tid = offset + t["tid"].as_i64().unwrap();
                assert!(
                    of("M").any(|e| e["name"] == "thread_name" && e["tid"] == tid),
                    "thread {tid} named"
                );
                let states = t["states"].as_str().unwrap();
                let first = t["first_tick"].as_u64().unwrap() as usize;
                // Every tick with an interval and a known state is in exactly one span of its state.
                let mut want: BTreeMap<char, u64> = BTreeMap::new();
                for (k, c) in states.chars().enumerate() {
                    if first + k >= 1 && c != '?' {
                        *want.entry(c).or_default() += 1;
                    }
                }
                let mut got: BTreeMap<char, u64> = BTreeMap::new();
                for e in of("X").filter(|e| e["tid"] == tid && e["pid"] == pid) {
                    let c = e["args"]["state"].as_str().unwrap().chars().next().unwrap();
                    *got.entry(c).or_default() += e["args"]["ticks"].as_u64().unwrap();
                }
                assert_eq!(got, want, "ticks per state of thread {tid}");
            }
        }
    }
    let running: Vec<&Value> = of("X").filter(|e| e["name"] == "running").collect();
    assert!(!running.is_empty(), "a CPU-bound pool shows running spans");
}

/// The recommendation card, replayed from recordings and read in Chromium: what to do in words
/// before the fields, the code for the API the workload used, and a dash (never `null`) for a
/// field that does not apply.
#[test]
fn the_recommendation_card_says_what_to_do_first_and_dashes_what_does_not_apply() {
    let Some(exe) = chromium::find() else { return };
    let mut browser = Browser::launch(&exe);
    for (variant, words, code) in [
        // ThreadPoolExecutor only: no process pool ran, so no start method applies.
        (
            "01_threads_pure",
            "Run the tasks in processes rather than ThreadPoolExecutor",
            None,
        ),
        (
            "05_skewed_chunk1",
            "Use multiprocessing.Pool with",
            Some("pool.imap_unordered(work, items, chunksize=1)"),
        ),
        (
            "xargs_uneven",
            "Use xargs -P with 2 workers",
            Some("xargs -P 2 -n 1"),
        ),
    ] {
        let dir = TempDir::new("card");
        let recording = crate::support::repo_root()
            .join("fixtures/recordings/variants")
            .join(variant);
        let out = crate::support::run_forkcast(&[
            "report",
            &recording.display().to_string(),
            "-o",
            &dir.str(),
            "--html",
        ]);
        out.expect(out.code == Some(0), "the report is written");
        let url = format!("file://{}", dir.join("report.html").display());
        let page = browser.load(&url, &["recommendation"]);
        assert_eq!(page.console_errors, Vec::<String>::new(), "{variant}");
        let text = &page.text;
        let card = &text[text.find("Recommendation").expect("the card")
            ..text.find("Decision path").expect("the path")];
        let said = card
            .find(words)
            .unwrap_or_else(|| panic!("{variant}: the card says {words:?}:\n{card}"));
        let fields = card.find("model").expect("the fields");
        assert!(said < fields, "{variant}: words before the fields:\n{card}");
        assert!(!text.contains("null"), "{variant}: no null on the page");
        if variant == "01_threads_pure" {
            assert!(
                card.contains("start_method\n—") || card.contains("start_method —"),
                "{variant}: a start method without a process pool is a dash:\n{card}"
            );
        }
        if let Some(code) = code {
            assert!(
                card.contains(code),
                "{variant}: the card shows {code:?}:\n{card}"
            );
        }
        let rect = page.rects[0].expect("#recommendation is laid out");
        assert!(
            inked_share_in(&page.screenshot_png, Some(rect)) > 0.03,
            "{variant}: the card is drawn"
        );
    }
}

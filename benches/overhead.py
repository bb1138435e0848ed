#!/usr/bin/env python3
"""forkcast's overhead on a lab's own wall time, paired runs, median ratio.

    python3 benches/overhead.py [--compare bare|probes] [--lab 01|02] [--pairs 10] [--size full]

--compare bare (default): the lab bare vs under `forkcast run` (sampler, counters and the
    default probes on): what forkcast as a whole costs the workload (issue 3 target <= 1.03).
--compare probes: under `forkcast run --probes none` vs under `forkcast run` (probes on): what
    the injected probes alone cost (issue 6 target < 3 %).
--compare tools: bare, `forkcast run --probes none` (switch records + counters, the timeline
    only), `perf stat` and `perf sched record` (the kernel's own tools for counting and for
    recording every switch), in rotating order within each pair, each as a ratio to bare
    (issue 12 target: forkcast <= 1.01). Also prints the milliseconds forkcast adds around a run
    (its outer wall minus bare's), and of those the ring attach and the collection after reaping.

Each pair runs both sides in alternating order so drift hits both alike. The figure compared is
the lab's own `wall=` (its pool's wall time, printed on its closing line), so interpreter start
and forkcast's own bookkeeping do not blur it; forkcast's wall_s is printed beside it.
Run on a quiet machine; standard library only.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LABS = {
    "01": ("01_cpu_bound_processes_vs_threads.py", ["--mode", "processes", "--work", "pure"]),
    "02": ("02_pickle_ipc_tax_paths_vs_payloads.py", ["--pass", "payload", "--payload-mb", "4"]),
}


def lab_wall(text):
    m = re.search(r"wall=([0-9.]+)s", text)
    if not m:
        sys.exit("benchmark: the lab printed no wall= figure:\n" + text)
    return float(m.group(1))


def lab_argv(a):
    script, args = LABS[a.lab]
    return [a.python, os.path.join(ROOT, "fixtures/labs", script), *args, "--size", a.size]


def bare(a):
    t = time.perf_counter()
    out = subprocess.run(lab_argv(a) + ["--workers", str(a.workers)], check=True,
                         capture_output=True, text=True).stdout
    return lab_wall(out), time.perf_counter() - t


def perf_tool(a, tool):
    with tempfile.TemporaryDirectory() as d:
        if tool == "stat":
            pre = ["perf", "stat", "-e", "task-clock,context-switches", "-x,", "-o",
                   os.path.join(d, "stat.txt"), "--"]
        else:
            pre = ["perf", "sched", "record", "-q", "-o", os.path.join(d, "sched.data"), "--"]
        t = time.perf_counter()
        out = subprocess.run(pre + lab_argv(a) + ["--workers", str(a.workers)], check=True,
                             capture_output=True, text=True).stdout
        return lab_wall(out), time.perf_counter() - t


def under_forkcast_timed(a, extra):
    """(lab wall, ms forkcast adds around the run, attach ms, collect ms, timeline source).

    The ms added are forkcast's outer wall minus its own run's wall_s (release to reap), from
    the same invocation, so the lab's run-to-run noise does not enter them."""
    with tempfile.TemporaryDirectory() as d:
        out_dir = os.path.join(d, "out")
        t = time.perf_counter()
        subprocess.run([a.forkcast, "run", "-q", "-o", out_dir, "-w", str(a.workers), "--runs", "1",
                        "--warmup", "0", *extra, "--", *lab_argv(a), "--workers", "{workers}"],
                       check=True)
        outer = time.perf_counter() - t
        report = json.load(open(os.path.join(out_dir, "report.json")))
        run = report["points"][0]["runs"][0]
        text = open(os.path.join(out_dir, run["stdout_file"])).read()
        sw = (run.get("sampled") or {}).get("switches") or {}
        return (lab_wall(text), (outer - run["wall_s"]) * 1e3, sw.get("attach_s", 0) * 1e3,
                sw.get("collect_s", 0) * 1e3, (run.get("sampled") or {}).get("source"))


def compare_tools(a):
    sides = [("bare", lambda: bare(a)), ("forkcast", lambda: under_forkcast_timed(a, ["--probes", "none"])),
             ("perf stat", lambda: perf_tool(a, "stat")), ("perf sched record", lambda: perf_tool(a, "sched"))]
    ratios = {name: [] for name, _ in sides[1:]}
    added, attach, collect = [], [], []
    for i in range(a.pairs):
        order = [(i + k) % len(sides) for k in range(len(sides))]
        res = {j: sides[j][1]() for j in order}
        base_lab = res[0][0]
        for j in range(1, len(sides)):
            ratios[sides[j][0]].append(res[j][0] / base_lab)
        fc = res[1]
        added.append(fc[1])
        attach.append(fc[2])
        collect.append(fc[3])
        print("round %2d (order %s): bare %.3f s; %s" % (
            i + 1, ",".join(sides[j][0] for j in order), base_lab,
            "; ".join("%s %.3f s (x%.4f)" % (sides[j][0], res[j][0], res[j][0] / base_lab)
                      for j in range(1, len(sides)))) + " [timeline: %s]" % fc[4])
    print("lab %s, %d workers, %s, %d rounds: median ratio of the lab's wall to bare:"
          % (a.lab, a.workers, a.size, a.pairs))
    for name, rs in ratios.items():
        print("  %-18s %.4f (min %.4f, max %.4f)" % (name, statistics.median(rs), min(rs), max(rs)))
    print("forkcast adds around each run: median %.0f ms (its outer wall minus its run's wall_s); of that, "
          "ring attach %.2f ms and collection after reaping %.2f ms (medians); the rest is "
          "forkcast's start, spawn, reap and report writing"
          % (statistics.median(added), statistics.median(attach), statistics.median(collect)))


def under_forkcast(a, extra):
    with tempfile.TemporaryDirectory() as d:
        out_dir = os.path.join(d, "out")
        subprocess.run([a.forkcast, "run", "-q", "-o", out_dir, "-w", str(a.workers), "--runs", "1",
                        "--warmup", "0", *extra, "--", *lab_argv(a), "--workers", "{workers}"],
                       check=True)
        report = json.load(open(os.path.join(out_dir, "report.json")))
        run = report["points"][0]["runs"][0]
        text = open(os.path.join(out_dir, run["stdout_file"])).read()
        return lab_wall(text), run["wall_s"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", choices=["bare", "probes", "tools"], default="bare")
    ap.add_argument("--lab", choices=sorted(LABS), default="01")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--size", default="full")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv/bin/python"))
    ap.add_argument("--forkcast", default=os.path.join(ROOT, "target/release/forkcast"))
    a = ap.parse_args()
    if not os.path.exists(a.forkcast):
        sys.exit("benchmark: %s missing: run cargo build --release" % a.forkcast)
    if a.compare == "tools":
        return compare_tools(a)
    if a.compare == "bare":
        sides = (("bare", lambda: bare(a)), ("forkcast", lambda: under_forkcast(a, [])))
    else:
        sides = (("--probes none", lambda: under_forkcast(a, ["--probes", "none"])),
                 ("probes on", lambda: under_forkcast(a, [])))
    ratios, outer = [], []
    for i in range(a.pairs):
        res = {}
        for side in ([0, 1] if i % 2 == 0 else [1, 0]):
            res[side] = sides[side][1]()
        (base_lab, base_outer), (test_lab, test_outer) = res[0], res[1]
        ratios.append(test_lab / base_lab)
        outer.append(test_outer / base_outer)
        print("pair %2d: lab wall %s %.3f s, %s %.3f s (x%.4f); outer wall %.3f s vs %.3f s"
              % (i + 1, sides[0][0], base_lab, sides[1][0], test_lab, test_lab / base_lab,
                 base_outer, test_outer))
    print("lab %s, %d workers, %s: median ratio of the lab's wall, %s / %s: %.4f (min %.4f, max %.4f)"
          % (a.lab, a.workers, a.size, sides[1][0], sides[0][0], statistics.median(ratios),
             min(ratios), max(ratios)))
    print("median ratio of the outer wall (%s): %.4f"
          % ("forkcast wall_s / bare external wall" if a.compare == "bare" else "forkcast wall_s",
             statistics.median(outer)))


if __name__ == "__main__":
    main()

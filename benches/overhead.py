#!/usr/bin/env python3
"""forkcast's overhead on the target: lab 01 at 2 workers, bare vs under forkcast, paired.

    python3 benches/overhead.py [--pairs 10] [--size full] [--python PATH] [-- extra forkcast args]

Each pair runs the lab bare and under `forkcast run` (sampler and counters on), in alternating
order so drift hits both sides alike. Two ratios, medians over pairs:
  * target wall: the lab's own wall time (it prints `wall=`), bare vs under forkcast: how much
    forkcast's sampling and counters slow the workload down (the figure the target is judged on);
  * forkcast wall_s: what forkcast reports for the run vs the bare external wall, which adds
    process start and exit detection.
Run it on a quiet machine; standard library only.
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
LAB = os.path.join(ROOT, "fixtures/labs/01_cpu_bound_processes_vs_threads.py")


def lab_wall(text):
    m = re.search(r"wall=([0-9.]+)s", text)
    if not m:
        sys.exit("benchmark: the lab printed no wall= figure:\n" + text)
    return float(m.group(1))


def bare(py, size, workers):
    t = time.perf_counter()
    out = subprocess.run([py, LAB, "--mode", "processes", "--workers", str(workers), "--size", size],
                         check=True, capture_output=True, text=True).stdout
    return lab_wall(out), time.perf_counter() - t


def under_forkcast(forkcast, py, size, workers, extra):
    with tempfile.TemporaryDirectory() as d:
        out_dir = os.path.join(d, "out")
        subprocess.run([forkcast, "run", "-q", "-o", out_dir, "-w", str(workers), "--runs", "1",
                        "--warmup", "0", *extra, "--", py, LAB, "--mode", "processes",
                        "--workers", "{workers}", "--size", size], check=True)
        report = json.load(open(os.path.join(out_dir, "report.json")))
        run = report["points"][0]["runs"][0]
        text = open(os.path.join(out_dir, run["stdout_file"])).read()
        sampled = run.get("sampled") or {}
        return lab_wall(text), run["wall_s"], sampled.get("achieved_hz"), sampled.get("sampler_cpu_s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--size", default="full")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv/bin/python"))
    ap.add_argument("--forkcast", default=os.path.join(ROOT, "target/release/forkcast"))
    ap.add_argument("extra", nargs="*", help="extra forkcast run arguments (after --)")
    a = ap.parse_args()
    if not os.path.exists(a.forkcast):
        sys.exit("benchmark: %s missing: run cargo build --release" % a.forkcast)
    target, total, hz, cpu = [], [], [], []
    for i in range(a.pairs):
        order = [0, 1] if i % 2 == 0 else [1, 0]
        res = {}
        for side in order:
            res[side] = bare(a.python, a.size, a.workers) if side == 0 else \
                under_forkcast(a.forkcast, a.python, a.size, a.workers, a.extra)
        (b_lab, b_ext), (f_lab, f_wall, f_hz, f_cpu) = res[0], res[1]
        target.append(f_lab / b_lab)
        total.append(f_wall / b_ext)
        hz.append(f_hz or 0)
        cpu.append(f_cpu or 0)
        print("pair %2d: lab wall bare %.3f s, under forkcast %.3f s (x%.3f); external bare %.3f s, "
              "forkcast wall_s %.3f s (x%.3f); sampler %.0f Hz, %.3f s CPU"
              % (i + 1, b_lab, f_lab, f_lab / b_lab, b_ext, f_wall, f_wall / b_ext, f_hz or 0, f_cpu or 0))
    print("median ratio, target's own wall under forkcast / bare: %.4f (min %.4f, max %.4f)"
          % (statistics.median(target), min(target), max(target)))
    print("median ratio, forkcast wall_s / bare external wall:     %.4f" % statistics.median(total))
    print("sampler: median %.0f Hz, median %.3f s CPU per run" % (statistics.median(hz), statistics.median(cpu)))


if __name__ == "__main__":
    main()

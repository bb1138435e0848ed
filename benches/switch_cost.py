#!/usr/bin/env python3
"""forkcast's own cost on big trees, switch records vs the procfs sampler, paired and interleaved.

    cargo build --release && python3 benches/switch_cost.py [--secs 4] [--pairs 2] [--tree NAME]

Each tree runs under `forkcast run --probes none` twice per pair: once with the timeline from
context-switch records (the default) and once with FORKCAST_SWITCHES=off (the procfs sampler),
in alternating order so that host drift hits both alike. For each run it prints, from
report.json, the collecting thread's CPU as a share of one core (`sampled.sampler_cpu_s` /
wall), late ticks (none by construction with switch records: the ticks are bins of the
records' own times; the collector's late wake-ups, which only delay naming waits, are printed
beside), the rate, records and lost records, the collector's state bytes and ring
bytes, and forkcast's peak RSS (polled from /proc/PID/status at 20 Hz). Targets (issue 12): CPU
<= 5 % of one core, no late ticks, memory bounded. Standard library only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each tree runs for SECS seconds and exits on its own.
TREES = {
    "512 threads (510 parked, 1 spinning)": r"""
import sys, threading, time
secs = float(sys.argv[1]); end = time.time() + secs
stop = threading.Event()
def spin():
    while time.time() < end: pass
ts = [threading.Thread(target=stop.wait) for _ in range(510)] + [threading.Thread(target=spin)]
for t in ts: t.start()
time.sleep(max(0.0, end - time.time())); stop.set()
for t in ts: t.join()
""",
    "512 processes (napping 0.5 s)": r"""
import os, sys, time
secs = float(sys.argv[1]); end = time.time() + secs
kids = []
for _ in range(511):
    pid = os.fork()
    if pid == 0:
        while time.time() < end: time.sleep(0.5)
        os._exit(0)
    kids.append(pid)
for k in kids: os.waitpid(k, 0)
""",
    "64 threads napping 50 ms": r"""
import sys, threading, time
secs = float(sys.argv[1]); end = time.time() + secs
def nap():
    while time.time() < end: time.sleep(0.05)
ts = [threading.Thread(target=nap) for _ in range(64)]
for t in ts: t.start()
for t in ts: t.join()
""",
    "8 threads contending for the GIL": r"""
import sys, threading, time
secs = float(sys.argv[1]); end = time.time() + secs
def work():
    x = 0
    while time.time() < end: x += 1
ts = [threading.Thread(target=work) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
""",
}


def peak_rss_kb(pid, proc):
    peak = 0
    while proc.poll() is None:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    return peak


def run(a, script, switches):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "tree.py")
        open(path, "w").write(script)
        env = dict(os.environ)
        if not switches:
            env["FORKCAST_SWITCHES"] = "off"
        out = os.path.join(d, "out")
        argv = [a.forkcast, "run", "-q", "-o", out, "-w", "1", "--runs", "1", "--warmup", "0",
                "--probes", "none", "--workers-env", "W", "--", a.python, path, str(a.secs)]
        t = time.perf_counter()
        proc = subprocess.Popen(argv, env=env)
        rss = peak_rss_kb(proc.pid, proc)
        outer = time.perf_counter() - t
        if proc.returncode != 0:
            sys.exit("benchmark: forkcast failed on the tree")
        r = json.load(open(os.path.join(out, "report.json")))
        run = r["points"][0]["runs"][0]
        s = run["sampled"]
        return {
            "source": s.get("source", "procfs"),
            "cpu_pct": 100.0 * s["sampler_cpu_s"] / run["wall_s"],
            "late": s["late_ticks"],
            "late_wakeups": (s.get("switches") or {}).get("late_wakeups", 0),
            "hz": s["achieved_hz"],
            "wall": run["wall_s"],
            "outer": outer,
            "rss_kb": rss,
            "sw": s.get("switches"),
            "errors": s["errors"],
            "threads": max((t["threads"] for t in s["timeline"]), default=0),
            "tree_cpu": (run.get("counters") or {}).get("task_clock_s"),
        }


def show(name, m):
    sw = m["sw"]
    extra = ""
    if sw:
        extra = ("  late wake-ups %d, records %d (%.0f/s), lost %d, names read %d, state %.1f KiB, "
                 "rings %d x %d KiB" % (m["late_wakeups"], sw["records"], sw["records"] / m["wall"],
                    sw["lost_records"],
                    sw["wait_lookups"], sw["peak_state_bytes"] / 1024, sw["cpus"],
                    sw["ring_bytes_per_cpu"] // 1024 * (2 if sw.get("wakeups_traced") else 1)))
    print("  %-12s cpu %5.2f %% of a core  late %3d  %6.1f Hz  threads %4d  wall %.2f s  "
          "forkcast RSS %6.1f MiB  errors %d%s"
          % (m["source"], m["cpu_pct"], m["late"], m["hz"], m["threads"], m["wall"],
             m["rss_kb"] / 1024, m["errors"], extra))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=4.0)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--tree", choices=sorted(TREES), action="append")
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv/bin/python"))
    ap.add_argument("--forkcast", default=os.path.join(ROOT, "target/release/forkcast"))
    a = ap.parse_args()
    if not os.path.exists(a.forkcast):
        sys.exit("benchmark: %s missing: run cargo build --release" % a.forkcast)
    summary = []
    for name in a.tree or list(TREES):
        print(name)
        got = {True: [], False: []}
        for i in range(a.pairs):
            for switches in ([True, False] if i % 2 == 0 else [False, True]):
                m = run(a, TREES[name], switches)
                got[switches].append(m)
                show(name, m)
        summary.append((name, got))
    print("\nmedians (collector CPU % of one core; most late ticks in a run; peak RSS MiB):")
    for name, got in summary:
        def med(side, key):
            return statistics.median(m[key] for m in got[side])
        print("  %-40s switches %5.2f %%, late %d, %5.1f MiB | sampler %5.2f %%, late %d, %5.1f Hz, %5.1f MiB"
              % (name, med(True, "cpu_pct"), max(m["late"] for m in got[True]),
                 med(True, "rss_kb") / 1024, med(False, "cpu_pct"),
                 max(m["late"] for m in got[False]), med(False, "hz"), med(False, "rss_kb") / 1024))


if __name__ == "__main__":
    main()

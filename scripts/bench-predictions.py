#!/usr/bin/env python3
"""How well the replay model predicts (docs/PREDICTIONS.md): two error tables.

1. Each lab variant and shape fixture at 1 and 2 workers, each point predicted from the other
   alone: the median and largest absolute error in speedup.
2. The labs' A/B pairs (lab 01 processes <-> threads, 02 payload -> path, 03 spawn -> fork and
   forkserver, 04 pickle -> shm, 05 chunksize 50 -> 1, 06 direct -> single writer): each
   variant's what-if replayed from its own sweep, against its partner's measured run.

    python3 scripts/bench-predictions.py --recordings
        the tables from fixtures/recordings/variants (deterministic; the test
        tests/it/predictions.rs computes them)
    python3 scripts/bench-predictions.py [--runs 1] [--warmup 0] [--only SUBSTR] [--dsn DSN]
        runs every variant live first (scripts/check-expected.py's list, release build),
        then the same tables from those sweeps; run it on a quiet machine
    python3 scripts/bench-predictions.py --from DIR
        the live tables from sweeps already recorded, without running anything:
        `python3 scripts/check-expected.py --record DIR --record-all [--repeat N]` on a quiet
        machine leaves one sweep per variant in DIR/NAME/ (report.json, raw.json.gz)

Both print the tables the tests print; the live mode keeps its sweeps in --keep DIR if given.
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLES = "predictions::each_"


def tables(env):
    cmd = ["cargo", "test", "-q", "--test", "it", TABLES, "--", "--nocapture", "--test-threads", "1"]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = (l.strip(".") for l in r.stdout.splitlines())
    keep = [l for l in lines if not l.startswith(("running", "test result", "test "))]
    print("\n".join(l for l in keep if l.strip()))
    if r.returncode != 0:
        print(r.stderr[-2000:], file=sys.stderr)
    return r.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--recordings", action="store_true", help="the tables from the recordings, no runs")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--only", default="")
    ap.add_argument("--dsn")
    ap.add_argument("--keep", metavar="DIR", help="keep the live sweeps here")
    ap.add_argument("--from", dest="from_dir", metavar="DIR",
                    help="the tables from the sweeps check-expected.py --record DIR --record-all kept, no runs")
    a = ap.parse_args()
    env = dict(os.environ)
    if a.recordings and a.from_dir:
        print("bench-predictions: --recordings and --from each name the sweeps; give one", file=sys.stderr)
        return 2
    if a.recordings:
        env.pop("FORKCAST_BENCH_DIR", None)
        return tables(env)
    if a.from_dir:
        found = [d for d in os.listdir(a.from_dir)
                 if os.path.exists(os.path.join(a.from_dir, d, "report.json"))] if os.path.isdir(a.from_dir) else []
        if not found:
            print(f"bench-predictions: no recorded sweep (NAME/report.json) in {a.from_dir}; record them with "
                  f"scripts/check-expected.py --record {a.from_dir} --record-all", file=sys.stderr)
            return 2
        env["FORKCAST_BENCH_DIR"] = os.path.abspath(a.from_dir)
        return tables(env)
    subprocess.run(["cargo", "build", "--release", "-q"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = a.keep or tmp
        cmd = [sys.executable, os.path.join(ROOT, "scripts/check-expected.py"), "--runs", str(a.runs),
               "--warmup", str(a.warmup), "--record", out, "--record-all", "--only", a.only]
        if a.dsn:
            cmd += ["--dsn", a.dsn]
        subprocess.run(cmd, cwd=ROOT, check=True)
        env["FORKCAST_BENCH_DIR"] = os.path.abspath(out)
        return tables(env)


if __name__ == "__main__":
    sys.exit(main())

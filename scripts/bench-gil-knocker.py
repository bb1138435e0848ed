#!/usr/bin/env python3
"""What the python probe's GIL knocker costs a worker, measured paired and interleaved.

    python3 scripts/bench-gil-knocker.py [--pairs 12] [--work pure|hashlib]

Each pair runs the same Pool(1) job twice under the probe, once with the knocker and once with
FORKCAST_PYTHON_KNOCK=0, in alternating order. The worker reports the CPU time of its process
(the knocker thread's included) and the summed wall time of its tasks. The cost is the median
of the per-pair ratios, with the ratios' spread beside it. Pure Python is the worst case: every
knock there forces a GIL hand-off.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

JOB = r"""
import hashlib, json, multiprocessing as mp, sys, time

def pure(_):
    x, acc = 1, 0
    for i in range(60_000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        acc ^= x >> 3
    return acc

BUF = bytes(4 << 20)

def hashed(_):
    h = hashlib.blake2b()
    for _ in range(2):
        h.update(BUF)
    return h.digest()[0]

def run(args):
    work, tasks = args
    fn = pure if work == "pure" else hashed
    c0, w = time.process_time(), 0.0
    for i in range(tasks):
        t = time.perf_counter()
        fn(i)
        w += time.perf_counter() - t
    return time.process_time() - c0, w

if __name__ == "__main__":
    with mp.Pool(1) as pool:
        # One pool task running many work items: the knocker counts inside it.
        cpu, wall = pool.map(run, [(sys.argv[1], int(sys.argv[2]))])[0]
    print(json.dumps({"cpu_s": cpu, "task_wall_s": wall}))
"""


def once(python, job, work, tasks, knock, site, out):
    env = dict(os.environ, PYTHONPATH=site, FORKCAST_PYTHON_OUT=out)
    env["FORKCAST_PYTHON_KNOCK"] = "1" if knock else "0"
    r = subprocess.run([python, job, work, str(tasks)], env=env, capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=12)
    ap.add_argument("--work", choices=["pure", "hashlib"], default="pure")
    ap.add_argument("--tasks", type=int, default=60)
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv/bin/python"))
    a = ap.parse_args()
    site = os.path.join(ROOT, "probes/python")
    with tempfile.TemporaryDirectory() as tmp:
        job = os.path.join(tmp, "job.py")
        open(job, "w").write(JOB)
        cpu, wall = [], []
        for i in range(a.pairs):
            order = [True, False] if i % 2 == 0 else [False, True]
            got = {}
            for knock in order:
                out = tempfile.mkdtemp(dir=tmp)
                got[knock] = once(a.python, job, a.work, a.tasks, knock, site, out)
            cpu.append(got[True]["cpu_s"] / got[False]["cpu_s"])
            wall.append(got[True]["task_wall_s"] / got[False]["task_wall_s"])
    for name, ratios in (("worker CPU time", cpu), ("task wall time", wall)):
        print(f"{a.work}: knocker on / off, {name}: median {statistics.median(ratios):.4f} "
              f"(min {min(ratios):.4f}, max {max(ratios):.4f}, {len(ratios)} pairs)")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks threads_scale's GIL prediction against real threads running the same work.

    python3 scripts/bench-gil-prediction.py [--reps 3] [--forkcast target/release/forkcast]

For each lab whose work can run in a thread pool as well as in processes (lab 01 pure Python
and hashlib, lab 02's transform, lab 04's page filter, from either transport), it

1. sweeps the processes variant through forkcast at 1 and 2 workers (default runs) and reads
   `predicted_thread_speedup` and the GIL-held share from threads_scale;
2. times the same task function in a ThreadPoolExecutor of 1 and of 2 threads, the two
   interleaved `--reps` times (the host drifts), and takes the median speedup.

The prediction is an upper bound by construction (Amdahl on the GIL-held share, no hand-off
cost), so threads measured a little under it are expected; what matters is which side of
threads_scale's bar (a speedup of 1.5 at 2 threads) each lands on.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, ".venv/bin/python")

# (name, lab, lab args for processes, thread job: setup and one task as Python source)
CASES = [
    ("lab 01 pure", "01_cpu_bound_processes_vs_threads.py",
     ["--mode", "processes", "--work", "pure", "--size", "short"],
     "TASKS = [lambda i=i: lab.pure_task(i, lab.PURE_ITERS['short']) for i in range(32)]"),
    ("lab 01 hashlib", "01_cpu_bound_processes_vs_threads.py",
     ["--mode", "processes", "--work", "hashlib", "--size", "short"],
     "TASKS = [lambda i=i: lab.hashlib_task(i, lab.HASH_ROUNDS['short']) for i in range(16)]"),
    ("lab 02 transform", "02_pickle_ipc_tax_paths_vs_payloads.py",
     ["--pass", "path", "--payload-mb", "4", "--size", "short"],
     "DOCS = [lab.make_document(i, 4 << 20) for i in range(8)]\n"
     "TASKS = [lambda i=i: lab.transform(DOCS[i % 8]) for i in range(24)]"),
    ("lab 04 filter", "04_shared_memory_doc_images.py",
     ["--transport", "shm", "--size", "short"],
     "import numpy as np\n"
     "PAGES = [np.empty((lab.H, lab.W), np.uint8) for _ in range(8)]\n"
     "for i, p in enumerate(PAGES): lab.render_page(i, p)\n"
     "OUTS = [np.empty_like(p) for p in PAGES]\n"
     "TASKS = [lambda i=i: lab.doc_filter(PAGES[i % 8], OUTS[i % 8]) for i in range(24)]"),
    # The pickle transport's workers run the same filter into a fresh result page; threads
    # would share the pages, so the thread job is the filter with that allocation.
    ("lab 04 pickle", "04_shared_memory_doc_images.py",
     ["--transport", "pickle", "--size", "short"],
     "import numpy as np\n"
     "PAGES = [np.empty((lab.H, lab.W), np.uint8) for _ in range(8)]\n"
     "for i, p in enumerate(PAGES): lab.render_page(i, p)\n"
     "TASKS = [lambda i=i: lab.work_pickle((i, PAGES[i % 8])) for i in range(24)]"),
]

THREADS = r"""
import importlib.util, json, sys, time
from concurrent.futures import ThreadPoolExecutor
spec = importlib.util.spec_from_file_location("lab", sys.argv[1])
lab = importlib.util.module_from_spec(spec); spec.loader.exec_module(lab)
exec(sys.argv[2])
def run(n):
    t = time.perf_counter()
    with ThreadPoolExecutor(n) as ex:
        list(ex.map(lambda f: f(), TASKS))
    return time.perf_counter() - t
run(1)  # warm: imports, buffers
speedups = []
for _ in range(int(sys.argv[3])):
    one, two = run(1), run(2)
    speedups.append(one / two)
print(json.dumps(speedups))
"""


def predicted(forkcast, lab, args):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([forkcast, "run", "-q", "-o", out, "-w", "1,2", "--", PY,
                        os.path.join(ROOT, "fixtures/labs", lab), *args, "--workers", "{workers}"],
                       check=True, capture_output=True)
        steps = {s["id"]: s for s in json.load(open(os.path.join(out, "report.json")))["diagnosis"]["steps"]}
    t = steps["threads_scale"]
    return t["answer"], t["measured"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--forkcast", default=os.path.join(ROOT, "target/release/forkcast"))
    a = ap.parse_args()
    print(f"{'work':18} {'GIL held':>14} {'predicted 2 thr':>16} {'answer':>8} {'threads measured':>22}")
    for name, lab, args, job in CASES:
        answer, m = predicted(a.forkcast, lab, args)
        r = subprocess.run([PY, "-c", THREADS, os.path.join(ROOT, "fixtures/labs", lab), job, str(a.reps)],
                           check=True, capture_output=True, text=True)
        sp = json.loads(r.stdout)
        held = m.get("gil_held_share")
        held_s = "-" if held is None else f"{held:.2f} ({m.get('gil_knocks')} kn)"
        pred = m.get("predicted_thread_speedup")
        print(f"{name:18} {held_s:>14} {('-' if pred is None else f'{pred:.2f}'):>16} {answer:>8} "
              f"{statistics.median(sp):>8.2f} ({min(sp):.2f}-{max(sp):.2f})", flush=True)


if __name__ == "__main__":
    sys.exit(main())

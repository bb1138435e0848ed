#!/usr/bin/env python3
"""Runs forkcast on every fixtures/expected variant (short size) and every pool-shape fixture in
fixtures/workloads/expected/, and prints where its recommendation differs from what the variant
expects. A gauge for the decision tree, not a test. By default each point gets forkcast's own
default runs (`--runs auto`: 3 measured after 1 warmup, then more rounds while a step's figure
straddles its bar), as a user would; `--runs 1 --warmup 0` is the quick
look, and on a drifting host a single run can show a straggler tail or a speedup that the
host made (one vCPU slower than the other for a while).

    python3 scripts/check-expected.py [--dsn DSN] [--forkcast target/release/forkcast] [--only SUBSTR]
                                      [--engines-python .venv-engines/bin/python]
                                      [--runs auto|N] [--warmup 1] [--repeat N] [--why] [--record DIR [--record-all]]

A lab variant names its `lab` and `args` (and `"python": "engines"` for the engine labs 07-10,
which run under --engines-python); a shape fixture gives its whole `argv`, with
`{python}` (the venv interpreter), `{workloads}` (fixtures/workloads) and `{workers}`.

Without --dsn, lab 06 runs against a private PostgreSQL started with scripts/private-postgres.sh.
"""
import argparse
import shutil
import glob
import json
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Which steps of the tree decide each recommendation field (printed by --why).
DECIDED_BY = {"model": ["cpu_bound", "threads_scale"], "data_passing": ["large_payload"],
              "sink": ["shared_sink"], "scheduling": ["task_variance"],
              "workers": ["worker_count"], "start_method": ["start_method"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn")
    ap.add_argument("--forkcast", default=os.path.join(ROOT, "target/release/forkcast"))
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv/bin/python"))
    ap.add_argument("--engines-python", default=os.path.join(ROOT, ".venv-engines/bin/python"),
                    help="the interpreter of the variants marked \"python\": \"engines\" (labs 07-10: "
                         "joblib, Dask, Ray; `bash scripts/venv.sh --engines` creates it)")
    ap.add_argument("--only", default="", help="check only the files whose name contains this")
    ap.add_argument("--runs", default="auto", help="measured runs per point: auto or N (forkcast's default, auto)")
    ap.add_argument("--warmup", type=int, default=1, help="warmup runs per point (forkcast's default)")
    ap.add_argument("--repeat", type=int, default=1, help="check each variant this many times in a row")
    ap.add_argument("--why", action="store_true",
                    help="on a mismatch, print the evidence of the steps that decide the field")
    ap.add_argument("--record", metavar="DIR",
                    help="keep each matching sweep's report.json and raw.json.gz in DIR/NAME/ "
                         "(fixtures/recordings/variants: replayed by tests/it/recordings.rs); with "
                         "--repeat, the first of a variant's repeats that qualifies, marked 'recorded'")
    ap.add_argument("--record-all", action="store_true",
                    help="with --record, keep the sweeps that did not match too "
                         "(`scripts/bench-predictions.py --from DIR` gives the live error tables from them)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # Not under tmp: that folder is private to us, and the server runs as another user.
        pg = f"/tmp/forkcast-check-pg-{os.getpid()}"
        dsn = a.dsn or subprocess.run(["bash", os.path.join(ROOT, "scripts/private-postgres.sh"), "start", pg],
                                      check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        try:
            paths = sorted(glob.glob(os.path.join(ROOT, "fixtures/expected/*.json")))
            paths += sorted(glob.glob(os.path.join(ROOT, "fixtures/workloads/expected/*.json")))
            recorded = set()
            for path, rep in ((p, k) for p in paths if a.only in p for k in range(a.repeat)):
                e = json.load(open(path))
                if "argv" in e:
                    subst = {"{python}": a.python, "{workloads}": os.path.join(ROOT, "fixtures/workloads")}
                    target = [subst.get(x, x) for x in e["argv"]]
                    target = [x.replace("{workloads}", subst["{workloads}"]) for x in target]
                else:
                    args = [x.replace("{dsn}", dsn) for x in e["args"]] + e.get("short_args", [])
                    py = a.engines_python if e.get("python") == "engines" else a.python
                    target = [py, os.path.join(ROOT, "fixtures/labs", e["lab"]), *args]
                out = os.path.join(tmp, os.path.basename(path)[:-5])
                r = subprocess.run([a.forkcast, "run", "-q", "-o", out, "-w", ",".join(map(str, e["workers"])),
                                    "--runs", str(a.runs), "--warmup", str(a.warmup), *e.get("forkcast_args", []), "--", *target],
                                   capture_output=True, text=True)
                name = os.path.basename(path)
                if r.returncode != 0:
                    print(f"{name}: forkcast failed: {r.stderr.strip()[-200:]}")
                    continue
                full = json.load(open(os.path.join(out, "report.json")))
                rec = full["diagnosis"]["recommendation"]
                diffs = {k: f"expected {v}, got {rec.get(k)}" for k, v in e["expect"].items() if rec.get(k) != v}
                # --runs auto: the measured rounds it took, and why it stopped adding them.
                rounds = full.get("rounds")
                used = (f" ({rounds['first_rounds'] + len(rounds['added'])} rounds, {rounds.get('stopped')})"
                        if rounds else "")
                # One sweep per variant: the first repeat that qualifies.
                record = a.record and (not diffs or a.record_all) and name not in recorded
                kept = f" (recorded: repeat {rep + 1} of {a.repeat})" if record and a.repeat > 1 else ""
                print(f"{name}: {'ok' if not diffs else diffs}{used}{kept}", flush=True)
                if a.why and diffs:
                    report = json.load(open(os.path.join(out, "report.json")))
                    steps = {s["id"]: s for s in report["diagnosis"]["steps"]}
                    for field in diffs:
                        for sid in DECIDED_BY.get(field, []):
                            st = steps.get(sid, {})
                            print(f"    {sid} = {st.get('answer')}: {st.get('evidence')}")
                            print(f"      measured: {json.dumps(st.get('measured'))}")
                if record:
                    recorded.add(name)
                    keep = os.path.join(a.record, os.path.basename(path)[:-5])
                    shutil.rmtree(keep, ignore_errors=True)
                    os.makedirs(keep)
                    for f in ("report.json", "raw.json.gz"):
                        shutil.copy(os.path.join(out, f), keep)
        finally:
            if not a.dsn:
                subprocess.run(["bash", os.path.join(ROOT, "scripts/private-postgres.sh"), "stop", pg],
                               capture_output=True)


if __name__ == "__main__":
    main()

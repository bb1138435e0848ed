#!/usr/bin/env bash
# Exact (switch records) against sampled (procfs sampler) shares of the workers' time, both
# attached to the same run (examples/offcpu_exact.rs), on lab 01 threads, lab 06 direct
# (a private PostgreSQL, scripts/private-postgres.sh) and an 8-thread GIL ping-pong.
#
#   benches/offcpu_exact.sh [RUNS]      # RUNS per workload, default 2
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-2}"
py=.venv/bin/python
cargo build --release --example offcpu_exact -q
ex=target/release/examples/offcpu_exact
pg="$(mktemp -d /tmp/forkcast-pg-XXXX)"
trap 'scripts/private-postgres.sh stop "$pg" >/dev/null 2>&1 || true' EXIT
dsn="$(scripts/private-postgres.sh start "$pg")"
for i in $(seq "$runs"); do
    "$ex" 2 "$py" fixtures/labs/01_cpu_bound_processes_vs_threads.py --mode threads --workers 2 --size short
    "$ex" 2 "$py" fixtures/labs/06_pipeline_cpu_procs_to_postgres_writer.py --sink direct --dsn "$dsn" --workers 2 --size short
    "$ex" 8 "$py" benches/gil_pingpong.py --threads 8 --secs 2
done

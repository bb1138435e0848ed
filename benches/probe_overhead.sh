#!/usr/bin/env bash
# Wall-time overhead of the injected probes on Python multiprocessing workloads: each workload
# runs alternately without and with the probes, PAIRS times, and the median per-pair ratio is
# printed (examples/probe_overhead.rs). Target: under 3 %.
#
# usage: benches/probe_overhead.sh [PYTHON] [PAIRS] [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-$(python3 -c 'import sys; print(sys.executable)')}
pairs=${2:-11}
workers=${3:-2}
cargo build --release -p forkcast-preload >&2
cargo build --release --example probe_overhead >&2
bench=target/release/examples/probe_overhead
# The example finds the library one folder up from target/release/examples.
export FORKCAST_PRELOAD_LIB=$PWD/target/release/libforkcast_preload.so
for workload in cpu payload small; do
    for probes in preload,python preload python; do
        echo "== $workload, probes: $probes" >&2
        printf "%-8s %-15s " "$workload" "$probes"
        "$bench" --pairs "$pairs" --probes "$probes" -- "$python" benches/probe_workload.py "$workload" "$workers"
    done
done

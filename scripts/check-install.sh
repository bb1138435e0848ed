#!/usr/bin/env bash
# forkcast installed the ways its users install it, each checked from a fresh place: the wheel
# (scripts/build-wheel.sh) pip-installed into a fresh venv, and `cargo install --path .` into a
# fresh root. For each: `forkcast` is the installed one, `forkcast doctor` lists all 10
# capabilities with the preload and Python probes available (and says what the build in the
# clone says), and the quick start (lab 01 at its short size, one run per point) injects both
# probes and gets data from each (report.json and raw.json.gz). Each install starts from an
# empty cache, so it writes its own preload library.
#
#   scripts/check-install.sh          # release builds, as users get them
#   scripts/check-install.sh --dev    # dev builds (CI: the build scripts/test reuses)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

dev="${1:-}"
profile=(--locked)
[[ "$dev" == --dev ]] && profile+=(--debug)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset FORKCAST_PRELOAD_LIB

wheel="$(scripts/build-wheel.sh ${dev:+"$dev"})"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel"
# A path install builds in the workspace's target folder: the wheel's build is reused.
cargo install --quiet --path . --root "$work/cargo" "${profile[@]}"

lab="$root/fixtures/labs/01_cpu_bound_processes_vs_threads.py"
python="$work/venv/bin/python"

# In a subshell: PATH and the cache are this install's only.
check() (
    name="$1" bindir="$2"
    export PATH="$bindir:$PATH"
    found="$(command -v forkcast)"
    [[ "$found" == "$bindir/forkcast" ]] || { echo "check-install: $name: forkcast on PATH is $found" >&2; exit 1; }
    export XDG_CACHE_HOME="$work/cache-$name"
    (cd "$work" && forkcast doctor) >"$work/doctor-$name.txt"
    grep -q "of 10 available)" "$work/doctor-$name.txt" &&
        grep -q "yes  preload_probe" "$work/doctor-$name.txt" &&
        grep -q "yes  python " "$work/doctor-$name.txt" ||
        { cat "$work/doctor-$name.txt" >&2; echo "check-install: $name: doctor" >&2; exit 1; }
    ls "$XDG_CACHE_HOME"/forkcast/libforkcast_preload-*.so >/dev/null
    (cd "$work" && forkcast run -q -o "$work/out-$name" -w 1,2 -P mode=processes,threads \
        --runs 1 --warmup 0 -- "$python" "$lab" --mode '{mode}' --workers '{workers}' --size short)
    "$python" - "$work/out-$name" "$name" <<'PY'
import gzip, json, sys
out, name = sys.argv[1:]
report = json.load(open(f"{out}/report.json"))
raw = json.load(gzip.open(f"{out}/raw.json.gz"))
bad = []
for point in report["points"]:
    where = f"{point['params']} w{point['workers']}"
    summary = point["summary"]
    for run in point["runs"]:
        if run["probes_injected"] != ["preload", "python"] or run["probe_notes"]:
            bad.append(f"{where}: injected {run['probes_injected']}, notes {run['probe_notes']}")
    if summary["sources"].get("task_durations") != "python_probe" or not summary["task_durations"]["count"]:
        bad.append(f"{where}: no task durations from the python probe")
    if point["params"]["mode"] == "processes" and (
        summary["sources"].get("ipc_bytes") != "preload_probe" or not summary["ipc_bytes"]
    ):
        bad.append(f"{where}: no pipe bytes from the preload probe")
for point in raw["measurements"]["points"]:
    for run in point["runs"]:
        for probe in ("preload", "python"):
            if not (run["probes"].get(probe) or {}).get("processes"):
                bad.append(f"{point['params']} w{point['workers']}: no {probe} records")
if bad:
    sys.exit(f"check-install: {name}: " + "; ".join(bad))
print(f"check-install: {name}: doctor and the quick start with both probes: ok")
PY
)

check wheel "$work/venv/bin"
check cargo-install "$work/cargo/bin"
# Both installs see this host as the build in the clone does.
built="$root/target/release/forkcast"
[[ "$dev" == --dev ]] && built="$root/target/debug/forkcast"
(cd "$work" && XDG_CACHE_HOME="$work/cache-built" "$built" doctor) >"$work/doctor-built.txt"
for name in wheel cargo-install; do
    diff -u "$work/doctor-built.txt" "$work/doctor-$name.txt" ||
        { echo "check-install: $name: doctor differs from $built's" >&2; exit 1; }
done

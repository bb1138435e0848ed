#!/usr/bin/env bash
# Measures the lab variant pairs (full size unless SIZE=short) and prints one line per run
# plus a median per variant, so the physics each lab teaches can be read off:
#
#   bash scripts/measure-labs.sh            # all labs, REPS=3
#   REPS=5 bash scripts/measure-labs.sh 02 06
#
# Variants of a lab are interleaved (A B A B ...) so slow drift on a shared box hits both.
# Lab 06 uses PGHOST/PGUSER/... if PGHOST is set, else a private PostgreSQL
# (scripts/private-postgres.sh), removed at exit.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$(bash "$root/scripts/venv.sh")"
labs="$root/fixtures/labs"
reps="${REPS:-3}"
size="${SIZE:-full}"
out="$(mktemp -d)"
pgdir=""
cleanup() {
    if [[ -n "$pgdir" ]]; then bash "$root/scripts/private-postgres.sh" stop "$pgdir" || true; fi
    rm -rf "$out"
}
trap cleanup EXIT

# Idle share of all CPUs over the next 2 s, in percent (from /proc/stat).
idle_pct() {
    local a b
    a=($(head -1 /proc/stat))
    sleep 2
    b=($(head -1 /proc/stat))
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    echo $(((b[4] - a[4] + b[5] - a[5]) * 100 / (total > 0 ? total : 1)))
}

# On a shared box, wait (up to QUIET_WAIT_S, default 120) until the CPUs are >= QUIET_PCT
# (default 90) percent idle, so other people's work does not land inside a measurement.
wait_quiet() {
    local want="${QUIET_PCT:-90}" deadline=$((SECONDS + ${QUIET_WAIT_S:-120})) idle
    while idle="$(idle_pct)" && ((idle < want && SECONDS < deadline)); do :; done
    echo "$idle"
}

# run LABEL WORKERS LAB ARGS...: one run; appends "LABEL wall tasks/s" to $out/results.
run() {
    local label="$1" workers="$2" lab="$3"
    shift 3
    local line idle
    idle="$(wait_quiet)"
    line="$("$py" "$labs/$lab" --workers "$workers" --size "$size" "$@" | tail -1)"
    echo "  $label w=$workers (idle before: $idle%): $line"
    local rate wall
    rate="$(sed -E 's/^throughput: ([0-9.]+) tasks\/s.*/\1/' <<<"$line")"
    wall="$(sed -E 's/.* wall=([0-9.]+)s.*/\1/' <<<"$line")"
    local extra
    extra="$(grep -oE '(startup_ms_first|startup_ms_later|imbalance)=[0-9.]+' <<<"$line" | tr '\n' ' ' || true)"
    echo "$label w=$workers $wall $rate $extra" >>"$out/results"
}

# pair LAB WORKERS "LABEL:ARGS" ...: interleaves the variants REPS times.
pair() {
    local lab="$1" workers="$2"
    shift 2
    for ((r = 0; r < reps; r++)); do
        for v in "$@"; do
            # shellcheck disable=SC2086
            run "${v%%:*}" "$workers" "$lab" ${v#*:}
        done
    done
}

sel=("$@")
has() { [[ ${#sel[@]} -eq 0 ]] || [[ " ${sel[*]} " == *" $1 "* ]]; }

echo "host: $(nproc) cpus, load: $(cut -d' ' -f1-3 /proc/loadavg), size=$size reps=$reps"
if has 01; then
    echo "lab 01"
    for w in 1 2; do
        pair 01_cpu_bound_processes_vs_threads.py "$w" \
            "01-processes-pure:--mode processes --work pure" \
            "01-threads-pure:--mode threads --work pure" \
            "01-processes-hashlib:--mode processes --work hashlib" \
            "01-threads-hashlib:--mode threads --work hashlib"
    done
fi
if has 02; then
    echo "lab 02"
    for w in 1 2; do
        pair 02_pickle_ipc_tax_paths_vs_payloads.py "$w" \
            "02-payload:--pass payload --payload-mb 4" "02-path:--pass path --payload-mb 4"
    done
fi
if has 03; then
    echo "lab 03"
    for w in 1 2; do
        pair 03_start_method_fork_vs_spawn_vs_forkserver.py "$w" \
            "03-fork:--start-method fork" "03-spawn:--start-method spawn" \
            "03-forkserver:--start-method forkserver"
    done
fi
if has 04; then
    echo "lab 04"
    for w in 1 2; do
        pair 04_shared_memory_doc_images.py "$w" \
            "04-pickle:--transport pickle" "04-shm:--transport shm"
    done
fi
if has 05; then
    echo "lab 05"
    for w in 1 2; do
        pair 05_process_pool_chunking_nlp.py "$w" \
            "05-skewed-c1:--sizes skewed --chunksize 1" \
            "05-skewed-c50:--sizes skewed --chunksize 50" \
            "05-uniform-c1:--sizes uniform --chunksize 1" \
            "05-uniform-c50:--sizes uniform --chunksize 50"
    done
fi
if has 06; then
    echo "lab 06"
    if [[ -z "${PGHOST:-}" ]]; then
        pgdir="$(mktemp -d /tmp/fcpg.XXXXXX)" # not under $out: the server's user must reach it
        bash "$root/scripts/private-postgres.sh" start "$pgdir" >/dev/null
        export PGHOST="$pgdir" PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
    fi
    for w in 1 2; do # the lab's --dsn defaults to libpq's environment (PGHOST, ...)
        pair 06_pipeline_cpu_procs_to_postgres_writer.py "$w" \
            "06-direct:--sink direct" "06-single-writer:--sink single-writer"
    done
fi

echo
echo "median per variant (wall s, tasks/s, and the lab's own extras from the median run):"
sort -k1,1 -k2,2 -k3,3n "$out/results" | awk '
    { key = $1 " " $2; n[key]++; rows[key, n[key]] = $0 }
    END {
        for (k in n) {
            m = rows[k, int((n[k] + 1) / 2)]
            split(m, f, " ")
            extra = ""
            for (i = 5; i <= length(f); i++) extra = extra " " f[i]
            printf "%-22s %-4s wall=%6.2fs  %8.1f tasks/s %s (n=%d)\n", f[1], f[2], f[3], f[4], extra, n[k]
        }
    }' | sort

#!/usr/bin/env bash
# The figures of issue 11 (faults), measured on this host with the built binary:
#   kill -9 of forkcast: time until no process of the target's tree is left, and how many are;
#   output flood: bytes `yes` wrote under --timeout 3s, and bytes kept on disk;
#   fork storm: 512 forked children alive at once, default cap (256 on 2 CPUs) and 1024: wall time, exit code,
#   whether report.json was written, processes left unsampled.
#
#   scripts/measure-faults.sh [path/to/forkcast]     (default: target/debug/forkcast)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fc="${1:-$root/target/debug/forkcast}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
py() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); $1" "$2"; }

echo "== kill -9 of forkcast (child, double fork, setsid, double-forked setsid; all sleep 300)"
m="fc-measure-$$"
"$fc" run -q -w 1 --runs 1 --warmup 0 -o "$tmp/kill9" -- bash -c \
  "(exec -a $m sleep 300) & ( (exec -a $m sleep 300) & ) ; setsid bash -c 'exec -a $m sleep 300' & ( setsid bash -c 'exec -a $m sleep 300' & ) ; wait # {workers}" &
fcpid=$!
for _ in $(seq 200); do [ "$(pgrep -c -f "^$m" || true)" -ge 4 ] && break; sleep 0.05; done
echo "tree before: $(pgrep -c -f "^$m" || true) sleepers"
start=$(date +%s%N); kill -9 "$fcpid"; wait "$fcpid" 2>/dev/null || true
while pgrep -f "^$m" >/dev/null && [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 5000 ]; do sleep 0.005; done
echo "after kill -9: $(pgrep -c -f "^$m" || true) left, cleanup took $(( ($(date +%s%N) - start) / 1000000 )) ms"

echo "== output flood: yes under --timeout 3s, default --output-cap 8MiB"
"$fc" run -q -w 1 --runs 1 --warmup 0 --timeout 3s -o "$tmp/flood" -- yes {workers} || true
py 'x=r["points"][0]["runs"][0]; print("yes wrote", x["stdout_bytes"], "bytes")' "$tmp/flood/report.json"
echo "saved stdout: $(stat -c %s "$tmp"/flood/runs/*.stdout) bytes; disk used by runs/: $(du -s --block-size=1 "$tmp/flood/runs" | cut -f1) bytes"

# 512 children alive at once: each blocks on a pipe until the parent has forked them all.
storm='import os
r, w = os.pipe()
kids = []
for i in range(512):
    pid = os.fork()
    if pid == 0:
        os.close(w); os.read(r, 1); os._exit(0)
    kids.append(pid)
os.close(w)
for p in kids: os.waitpid(p, 0)'
for cap in default 1024; do
  echo "== fork storm: 512 sleepers, --max-processes $cap"
  start=$(date +%s%N)
  opt=(); [ "$cap" = default ] || opt=(--max-processes "$cap")
  rc=0; "$fc" run -q -w 1 --runs 1 --warmup 0 "${opt[@]}" --workers-env N -o "$tmp/storm$cap" -- python3 -c "$storm" || rc=$?
  echo "exit $rc in $(( ($(date +%s%N) - start) / 1000000 )) ms; report.json: $([ -e "$tmp/storm$cap/report.json" ] && echo written || echo MISSING)"
  py 'x=r["points"][0]["runs"][0]; s=x["sampled"]; print("sampled", len(s["processes"]), "processes, untracked", s.get("untracked_processes"), "; faults:", [f["kind"] for f in x["outcome"]["faults"]])' "$tmp/storm$cap/report.json"
done

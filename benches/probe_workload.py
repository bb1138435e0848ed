"""Workloads for benches/probe_overhead.sh: a multiprocessing Pool doing
- cpu:     pure-Python work, small messages (like lab 01);
- payload: 4 MB payloads pickled to the workers (like lab 02 --pass payload);
- small:   20000 tiny tasks with chunksize=1, the probes' worst case (a pickle, a task and a few
           pipe calls per microsecond-sized task).
"""
import multiprocessing as mp
import sys


def cpu(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def size(b):
    return len(b)


def ident(x):
    return x


if __name__ == "__main__":
    kind, workers = sys.argv[1], int(sys.argv[2])
    with mp.Pool(workers) as pool:
        if kind == "cpu":
            pool.map(cpu, [400_000] * 32)
        elif kind == "payload":
            pool.map(size, [bytes([i % 256]) * 4_000_000 for i in range(24)])
        elif kind == "small":
            for _ in pool.imap(ident, range(20_000), chunksize=1):
                pass
        else:
            sys.exit("unknown workload " + kind)

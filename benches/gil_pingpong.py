"""Eight (or --threads) pure-Python threads contending for the GIL for --secs seconds: every
switch interval (5 ms) the holder drops the GIL and a waiter takes it, so each thread spends
most of its life blocked on the GIL's futex. Prints its wall time."""
import argparse
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=8)
ap.add_argument("--secs", type=float, default=3.0)
a = ap.parse_args()
end = time.time() + a.secs


def work():
    x = 0
    while time.time() < end:
        for _ in range(1000):
            x += 1


t0 = time.perf_counter()
ts = [threading.Thread(target=work) for _ in range(a.threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(f"threads={a.threads} wall={time.perf_counter() - t0:.3f}s")

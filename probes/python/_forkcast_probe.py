"""forkcast's Python probe, imported by the sitecustomize.py beside it when FORKCAST_PYTHON_OUT is
set. Every interpreter in the tree (fork, spawn and forkserver children included: they inherit
the environment) records, per process, into its own memory-mapped file in that directory:

- bytes and time of multiprocessing / concurrent.futures pickling (ForkingPickler.dumps) and
  unpickling (ForkingPickler.loads), on both the sending and the receiving side;
- each task's duration: Pool tasks and ProcessPoolExecutor calls in the worker (map chunks are
  timed per item, so a task is one call of the user's function), ThreadPoolExecutor work items;
- the chunksize of Pool.map/starmap/imap/imap_unordered and Executor.map (given or default);
- the pools created and the start method of the processes started;
- the threads alive in the parent at each os.fork() and each process start;
- each worker's start-up: the parent's clock when it started the process, and the worker's clock
  at its first task (one monotonic clock for every process of the host);
- the same for joblib (loky workers, and any backend's calls), Dask workers and Ray workers,
  and the bytes they pass by reference (joblib's memory-mapped arrays, ray.put) or copy into
  an object store per call (a large argument passed to a Ray task by value);
- how much of a pool worker's task time it holds the GIL (a worker process's, or a thread
  pool's process's): a knocker thread wakes at random times, _KNOCK_S apart on average, and a
  wake-up that has to block again for the GIL found it held (see `_knocker`). The method of
  gil_load and gilknocker, with Poisson knocks.

Every update is a write into a MAP_SHARED mapping, so a worker that leaves by os._exit or is
killed by Pool.terminate() loses nothing: there is nothing to flush. The probe never writes to
stdout or stderr, and swallows its own exceptions.

File `py-<pid>-<ns>.bin`, native-endian: a 512-byte header of 8-byte words, JSON-lines events,
then the first task durations. The layout is defined once, in the "record layout" block below;
forkcast's src/run/probes/python.rs parses that block from this file, so the sides cannot drift.
"""

import os
import sys

_ENV = "FORKCAST_PYTHON_OUT"


_rec = None  # this process's _Record while active


def _activate(out_dir):
    global _rec, _engine_tls
    import _thread

    _engine_tls = _thread._local()
    _rec = _Record(out_dir, *_initial_role())
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_child)
    sys.meta_path.insert(0, _Finder())
    for name, patch in _PATCHES.items():
        module = sys.modules.get(name)
        if module is not None:
            _safe(patch, module)


def _safe(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception:
        return None


def _initial_role():
    argv = " ".join(getattr(sys, "orig_argv", None) or sys.argv or [])
    if "--multiprocessing-fork" in argv:
        return "mp_child", "spawn"
    if "multiprocessing.forkserver import main" in argv:
        return "forkserver", "exec"
    if "multiprocessing.resource_tracker import main" in argv:
        return "resource_tracker", "exec"
    if "loky.backend.resource_tracker import main" in argv:
        return "resource_tracker", "exec"
    if "loky.backend.popen_loky_posix" in argv:
        return "loky_worker", "spawn"
    if "ray/_private/workers/default_worker.py" in argv:
        return "ray_worker", "exec"
    return "process", "exec"


# --- the per-process record -------------------------------------------------------------------

from time import perf_counter_ns as _ns  # noqa: E402

# record layout begin: word indexes (byte offset / 8), i64 unless the comment says otherwise.
_MAGIC = 0  # 8 bytes b"FKPYREC1"
_VERSION = 1  # u32 version (1), then u32 header size in bytes (512)
_PID = 2
_PPID = 3
_ROLE = 4  # 32 bytes, NUL-padded
_STARTED_BY = 8  # 16 bytes, NUL-padded: exec, fork, spawn or forkserver
_PICKLED = 10  # bytes, then ns, then calls (sending side)
_UNPICKLED = 13  # bytes, then ns, then calls (receiving side)
_TASKS = 16
_TAIL_NS = 17  # past the first _DUR_CAP tasks: the sum of their ns
_TAIL_SUMSQ = 18  # f64: the sum of their squared ns
_TAIL_MIN = 19
_TAIL_MAX = 20
_POOL = 22  # tasks from multiprocessing.Pool
_PROCESS_POOL = 23  # tasks from ProcessPoolExecutor
_THREAD_POOL = 24  # tasks from ThreadPoolExecutor
_CHUNKS = 25  # pool work messages this worker handled
_STARTS_FORK = 26  # processes this process started, by method
_STARTS_SPAWN = 27
_STARTS_FORKSERVER = 28
_FORKS = 29
_FORK_PY_MAX = 30  # most threads alive at an os.fork(): threading's, then /proc/self/task's
_FORK_OS_MAX = 31
_EVENTS_LEN = 32  # bytes of events written
_EVENTS_DROPPED = 33
_CREATED_NS = 34  # monotonic clock when this record was created
_FIRST_TASK_NS = 35  # monotonic clock when this worker's first task began; 0: none
_KNOCKS = 36  # GIL knocks while a task ran
_KNOCKS_HELD = 37  # ... that found the GIL held
_KNOCK_WAIT_NS = 38  # their summed waits past the sleep
_GIL = 39  # 1: a build with a GIL; free-threaded (Py_GIL_DISABLED): 2 with the GIL off, 3 on
_KNOCK_NS = 40  # the knocker's sleep
_SWITCH_NS = 41  # sys.getswitchinterval()
_START_PY_MAX = 42  # most threads alive in this process when it started a process (any method)
_START_OS_MAX = 43
_KNOCK_CPU_NS = 44  # the knocker thread's own on-CPU time (its cost)
_ENGINE = 45  # tasks from an engine's workers (joblib, Dask, Ray)
_SHARED = 46  # bytes passed by reference: joblib memmaps, ray.put; then ns, then calls
_STORED = 49  # bytes copied into an object store per call (Ray, by value); then ns, then calls
_ROW_HOLDS = 52  # transactions that held a row an earlier one wrote (a hot row): how many, then ns
_ACTOR_WAITS = 54  # waits for Ray actors' replies: slots of (ns, calls), each named by an event
_HEADER_WORDS = 64
_EVENTS = 64  # JSON lines up to _DURATIONS
_DURATIONS = 8192  # the first _DUR_CAP task durations, ns each
_DUR_CAP = 262144
# record layout end

_HEADER_SIZE = 8 * _HEADER_WORDS
_EVENTS_OFF, _EVENTS_END = 8 * _EVENTS, 8 * _DURATIONS
_DUR_OFF, _DUR_BASE = 8 * _DURATIONS, _DURATIONS
_SIZE = _DUR_OFF + 8 * _DUR_CAP
# The actor-wait slots fill the header's last words; a task worker waits on its first few
# actors there (a pool writes to one or two), and on further actors uncounted.
_ACTOR_SLOTS = (_HEADER_WORDS - _ACTOR_WAITS) // 2
_STARTS = {"fork": _STARTS_FORK, "spawn": _STARTS_SPAWN, "forkserver": _STARTS_FORKSERVER}
# The knocker's period: 25 knocks a second, from a worker's 80th ms of task time on. A knock
# costs 100-400 us of CPU on a loaded 2-core VM (a GIL hand-off and a schedstat read), so under
# 1 % of a worker (scripts/bench-gil-knocker.py and each report's `gil_knocker_cost`), and a
# point's runs give a few dozen knocks per second of task time.
_KNOCK_S = 0.04
# The roles of processes that run a pool's tasks: the knocker runs in these.
_WORKER_ROLES = ("pool_worker", "process_pool_worker", "loky_worker", "dask_worker", "ray_worker")
# FORKCAST_PYTHON_KNOCK=0 turns the knocker off: for measuring what it costs, side by side.
_KNOCK = os.environ.get("FORKCAST_PYTHON_KNOCK") != "0"


class _Record:
    """This process's record: every update goes straight into the shared mapping through int64
    and float64 views, under a lock because pool threads update it concurrently (an RLock, taken
    with acquire/try/finally: half the cost of `with`, and safe if a signal handler re-enters)."""

    def __init__(self, out_dir, role, started_by):
        import _thread
        import mmap

        self.lock = _thread.RLock()
        self.acquire, self.release = self.lock.acquire, self.lock.release
        self.out_dir = out_dir
        self.role = role
        pid = os.getpid()
        name = os.path.join(out_dir, "py-%d-%d.bin" % (pid, _ns()))
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, _SIZE)
            self.mm = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        # The last two pool tasks' (begin, end) monotonic ns, end None while one runs: the
        # knocker counts only knocks that fell inside a task.
        # (begin, end) of the latest tasks: a knock is counted when one of them covers its
        # wake-up, which the knocker may only check some switch intervals later (tasks of a few
        # ms have moved on by then), so a few dozen are kept.
        self.tasks_seen = []
        self.busy_ns = 0  # task time so far
        self.knocking = False
        self.actor_slots = {}  # actor id (hex) -> its slot of _ACTOR_WAITS
        self.mm[0:8] = b"FKPYREC1"
        words = memoryview(self.mm)
        self.u32 = words[:16].cast("I")
        self.u32[2 * _VERSION], self.u32[2 * _VERSION + 1] = 1, _HEADER_SIZE
        self.q = words.cast("q")
        self.d = words.cast("d")
        self.q[_PID], self.q[_PPID] = pid, os.getppid()
        self.q[_CREATED_NS] = _ns()
        self.q[_GIL] = _gil_word()
        self.q[_KNOCK_NS] = int(_KNOCK_S * 1e9)
        self.q[_SWITCH_NS] = int(sys.getswitchinterval() * 1e9)
        self.set_role(role)
        at = 8 * _STARTED_BY
        self.mm[at:at + 16] = started_by.encode()[:16].ljust(16, b"\0")

    def close(self):
        for view in (self.u32, self.q, self.d):
            view.release()
        self.mm.close()

    def set_role(self, role):
        self.role = role
        at = 8 * _ROLE
        self.mm[at:at + 32] = role.encode()[:32].ljust(32, b"\0")

    def add2(self, at, n, ns):
        q = self.q
        self.acquire()
        try:
            q[at] += n
            q[at + 1] += ns
        finally:
            self.release()

    def add3(self, at, n, ns):
        q = self.q
        self.acquire()
        try:
            q[at] += n
            q[at + 1] += ns
            q[at + 2] += 1
        finally:
            self.release()

    def task(self, ns, source, chunk=False):
        """One task of `ns` (None: only a chunk ended, its items were timed one by one). The
        durations array holds the first _DUR_CAP tasks; later ones only feed the tail sums."""
        q = self.q
        self.acquire()
        try:
            if chunk:
                q[_CHUNKS] += 1
            if ns is None:
                return
            i = q[_TASKS]
            q[_TASKS] = i + 1
            q[source] += 1
            if i < _DUR_CAP:
                q[_DUR_BASE + i] = ns
                return
            q[_TAIL_NS] += ns
            self.d[_TAIL_SUMSQ] += float(ns) * ns
            if i == _DUR_CAP or ns < q[_TAIL_MIN]:
                q[_TAIL_MIN] = ns
            if ns > q[_TAIL_MAX]:
                q[_TAIL_MAX] = ns
        finally:
            self.release()

    def fork(self, python_threads, os_threads):
        q = self.q
        with self.lock:
            q[_FORKS] += 1
            q[_FORK_PY_MAX] = max(q[_FORK_PY_MAX], python_threads)
            q[_FORK_OS_MAX] = max(q[_FORK_OS_MAX], os_threads)
        self.event(ev="fork", python_threads=python_threads, os_threads=os_threads)

    def started(self, pid, method, at_ns, python_threads, os_threads):
        """This process started process `pid` by `method` at `at_ns`, with these threads alive."""
        q = self.q
        with self.lock:
            if method in _STARTS:
                q[_STARTS[method]] += 1
            q[_START_PY_MAX] = max(q[_START_PY_MAX], python_threads)
            q[_START_OS_MAX] = max(q[_START_OS_MAX], os_threads)
        self.event(ev="start", pid=pid, method=method, at_ns=at_ns, python_threads=python_threads,
                   os_threads=os_threads)

    def busy_through(self, t, until):
        """One task ran from `t` to `until` (or still runs)."""
        return any(b <= t and (e is None or until <= e) for b, e in list(self.tasks_seen))

    def end_task(self, now, span=None):
        """The task of `span` (what begin_task returned; else the latest) ends. A pool's threads
        run tasks side by side, so each closes its own span."""
        seen = self.tasks_seen
        if span is None:
            span = seen[-1] if seen else None
        if span is not None and span[1] is None:
            span[1] = now
            self.busy_ns += now - span[0]

    def begin_task(self, now, thread_pool=False):
        """A pool task begins: the first one dates the worker's start-up. Returns its span for
        end_task. With two knock periods of task time behind it, the knocker starts in a worker
        process, or in the process of a thread pool (`thread_pool`: its threads share this
        process's GIL, so one thread's knocks give the held share at one worker too, where
        nothing waits on the GIL yet). A process that only ever runs a few milliseconds of tasks
        would pay its start-up (a thread, an open) for no usable figure."""
        seen = self.tasks_seen
        span = [now, None]
        seen.append(span)
        if len(seen) > 64:
            del seen[:32]
        if self.q[_FIRST_TASK_NS] == 0:
            self.q[_FIRST_TASK_NS] = now
            # Again after the worker's imports: importing an extension that does not declare
            # itself free-threading safe turns the GIL back on.
            self.q[_GIL] = _gil_word()
        worker = thread_pool or self.role in _WORKER_ROLES
        if not self.knocking and worker and _KNOCK and self.busy_ns >= 2 * self.q[_KNOCK_NS]:
            self.knocking = True
            import _thread

            # A bare _thread: threading never sees it, so it never counts as the target's thread.
            _thread.start_new_thread(_knocker, (self,))
        return span

    def actor_wait(self, actor, ns):
        """A task waited `ns` for a reply of actor `actor` (its id, hex): added to its slot, which
        an event names the first time."""
        slots = self.actor_slots
        q = self.q
        with self.lock:
            slot = slots.get(actor)
            if slot is None:
                if len(slots) >= _ACTOR_SLOTS:
                    return
                slot = slots[actor] = len(slots)
                new = True
            else:
                new = False
            q[_ACTOR_WAITS + 2 * slot] += ns
            q[_ACTOR_WAITS + 2 * slot + 1] += 1
        if new:
            self.event(ev="actor_wait", slot=slot, actor=actor)

    def event(self, **fields):
        line = ("{%s}\n" % ",".join('"%s":%s' % (k, _json(v)) for k, v in fields.items())).encode()
        q = self.q
        with self.lock:
            start = _EVENTS_OFF + q[_EVENTS_LEN]
            if start + len(line) <= _EVENTS_END:
                self.mm[start:start + len(line)] = line
                q[_EVENTS_LEN] += len(line)
            else:
                q[_EVENTS_DROPPED] += 1


def _json(value):
    """A JSON value for the few types events hold (importing json costs ~3 ms per interpreter)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return '"%s"' % "".join(
        c if c >= " " and c not in '"\\' else "\\u%04x" % ord(c) for c in text
    )


def _gil_word():
    """The _GIL word now. A free-threaded build (Py_GIL_DISABLED) has "t" in its ABI flags;
    sys._is_gil_enabled() (3.13+) says whether the GIL is on at this moment."""
    if "t" not in getattr(sys, "abiflags", ""):
        return 1
    gil = getattr(sys, "_is_gil_enabled", None)
    return 3 if gil is None or gil() else 2


# --- GIL knocks ----------------------------------------------------------------------------------

def _knocker(rec):
    """Knocks at the times of a Poisson process of mean gap _KNOCK_S, fixed in advance and blind
    to the GIL: knocks a fixed sleep apart start counting from the moment the knocker got the
    GIL back, which is the moment a holder let go, so they lock onto the phases of a task that
    repeats (a held stretch, then a released one), and read a mixed task's 23 % held as 13-17 %
    (tests/it/probes/gil.rs). Poisson arrivals see time averages. A knock that fell due while
    the knocker still waited for the GIL found it held: it is counted so, not skipped.

    Each wake-up needs the GIL back. With the GIL free the knocker
    takes it and runs on: the scheduler ran it once since it went to sleep (its schedstat's
    third field). With the GIL held it blocks again on the GIL's condition variable until the
    holder lets go, so it runs twice or more: that knock found the GIL held, however short the
    wait (a task that ends just after the knock still held it). Without schedstat, a wait of a
    fifth of a switch interval (1 ms by default) or more counts as held. A knock counts when a
    task was running at the wake-up (the knocker only runs once it has the GIL, often at the
    task's end, so asking then would miss it) and still ran after the time the knocker spent
    runnable without a CPU (schedstat's second field): on a busy host the knocker first asks for
    the GIL that much later, and a task that had ended by then left the GIL to what follows it
    (pickling the result, unpickling the next), which threads sharing the data would not do. The
    time it blocked on the GIL itself does not move the ask, so a held GIL is counted however
    short the task. The wait summed leaves out the queued time too: that is the host, not the
    GIL. Only this thread writes the knock words, so it takes no lock."""
    import _thread
    from math import log
    from time import sleep

    knock_ns = rec.q[_KNOCK_NS]
    held_ns = rec.q[_SWITCH_NS] // 5
    q = rec.q
    try:
        fd = os.open("/proc/self/task/%d/schedstat" % _thread.get_native_id(), os.O_RDONLY)
    except (OSError, AttributeError):
        fd = -1

    def schedstat():
        """(on-CPU ns, runnable-but-queued ns, times run) of this thread."""
        if fd < 0:
            return 0, 0, 0
        fields = os.pread(fd, 64, 0).split()
        return int(fields[0]), int(fields[1]), int(fields[2])

    def gap():
        """An exponential gap of mean _KNOCK_S, from the kernel's entropy (a target may never
        have imported `random`)."""
        u = (int.from_bytes(os.urandom(7), "little") + 1) / (1 << 56)
        return int(-log(u) * knock_ns)

    def count(at, until, held, waited):
        if _rec is rec and rec.busy_through(at, until):
            q[_KNOCKS] += 1
            if held:
                q[_KNOCKS_HELD] += 1
            q[_KNOCK_WAIT_NS] += max(waited, 0)

    # One schedstat read per knock: the one after a wake-up also starts the next sleep.
    _, queued0, runs0 = schedstat()
    due = _ns() + gap()
    while _rec is rec:
        now = _ns()
        while due <= now:  # due while this thread ran its own bookkeeping: a knock not made
            due += gap()
        sleep((due - now) / 1e9)
        t1 = _ns()
        cpu, queued, runs = schedstat()
        queued_ns = queued - queued0
        waited = t1 - due - queued_ns
        held = runs - runs0 >= 2 if fd >= 0 else waited >= held_ns
        queued0, runs0 = queued, runs
        q[_KNOCK_CPU_NS] = cpu
        asked = due + queued_ns
        count(due, asked, held, waited)
        # Knocks fell due while this thread waited for the GIL: it was held at each of them.
        due += gap()
        while due < t1:
            if held and due >= asked:
                count(due, due, True, 0)
            due += gap()


# --- fork ---------------------------------------------------------------------------------------

def _threads_now():
    threading = sys.modules.get("threading")
    if threading is not None:
        python_threads = threading.active_count()
    else:
        import _thread

        python_threads = _thread._count() + 1
    try:
        os_threads = len(os.listdir("/proc/self/task"))
    except OSError:
        os_threads = 0
    rec = _rec
    if rec is not None and rec.knocking and os_threads > 1:
        os_threads -= 1  # the knocker is ours, not the target's
    return python_threads, os_threads


def _before_fork():
    rec = _rec
    if rec is not None:
        _safe(lambda: rec.fork(*_threads_now()))


def _after_fork_child():
    global _rec
    parent = _rec
    if parent is None:
        return
    _rec = None
    started_by = "forkserver" if parent.role == "forkserver" else "fork"
    _rec = _safe(_Record, parent.out_dir, "process", started_by)
    _safe(parent.close)


# --- lazy patching: each module is patched right after it is first imported -----------------------

class _Loader:
    """Wraps a module's loader so its module is patched right after it executes."""

    def __init__(self, loader, patch):
        self._fc_loader = loader
        self._fc_patch = patch

    def create_module(self, spec):
        return self._fc_loader.create_module(spec)

    def exec_module(self, module):
        self._fc_loader.exec_module(module)
        _safe(self._fc_patch, module)

    def __getattr__(self, name):
        return getattr(self._fc_loader, name)


class _Finder:
    """A meta path finder that only wraps the loader of the modules in _PATCHES."""

    # Names being looked up right now (by the finders we ask in turn). The import system holds
    # the module's lock around find_spec, so no two threads look up one name at once.
    _finding = set()

    def find_spec(self, name, path=None, target=None):
        patch = _PATCHES.get(name)
        if patch is None or name in self._finding:
            return None
        self._finding.add(name)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    break
            else:
                return None
            if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _Loader(spec.loader, patch)
            return spec
        except Exception:
            return None
        finally:
            self._finding.discard(name)


def _wraps(orig):
    import functools

    return functools.wraps(orig)


def _patch_reduction(m):
    fp = m.ForkingPickler
    if getattr(fp, "_fc_patched", False):
        return
    dumps = fp.__dict__["dumps"].__func__
    loads = fp.__dict__["loads"]

    @_wraps(dumps)
    def fc_dumps(cls, obj, protocol=None):
        t0 = _ns()
        data = dumps(cls, obj, protocol)
        t1 = _ns()
        rec = _rec
        if rec is not None:
            try:
                n = data.nbytes if type(data) is memoryview else len(data)
                rec.add3(_PICKLED, n, t1 - t0)
            except Exception:
                pass
        return data

    def fc_loads(data, *args, **kwargs):
        t0 = _ns()
        obj = loads(data, *args, **kwargs) if args or kwargs else loads(data)
        t1 = _ns()
        rec = _rec
        if rec is not None:
            try:
                n = data.nbytes if type(data) is memoryview else len(data)
                rec.add3(_UNPICKLED, n, t1 - t0)
            except Exception:
                pass
        return obj

    fp.dumps = classmethod(fc_dumps)
    fp.loads = staticmethod(fc_loads)
    fp._fc_patched = True


def _timed(fn, source):
    """fn, timed per call: one call of the user's function is one task."""

    def fc_timed(*args, **kwargs):
        t0 = _ns()
        try:
            return fn(*args, **kwargs)
        finally:
            dt = _ns() - t0
            rec = _rec
            if rec is not None:
                try:
                    rec.task(dt, source)
                except Exception:
                    pass

    return fc_timed


class _TaskClock:
    """Times a worker's tasks from the moment its task queue hands one over to the moment the
    result is put back (so pickling is not task time). Map chunks are rewritten by `per_item` so
    each item is timed on its own; the chunk itself then only counts as a chunk."""

    def __init__(self, source, per_item):
        self.source = source
        self.per_item = per_item  # callable(task) -> task with its items timed, or None
        self.start = None
        self.items_timed = False
        self.engine_tasks = 0
        self.span = None  # the running task's span in the record (begin_task's)
        self.thread_pool = False  # a ThreadPool's thread, not a worker process

    def queues(self, tasks, results):
        return _TaskQueue(tasks, self), _ResultQueue(results, self)


class _TaskQueue:
    """A worker's task queue: get() starts the task clock."""

    def __init__(self, queue, clock):
        self._fc_queue = queue
        self._fc_clock = clock

    def get(self, *args, **kwargs):
        task = self._fc_queue.get(*args, **kwargs)
        if task is None:
            return task
        clock = self._fc_clock
        clock.start = _ns()
        clock.engine_tasks = _engine_tasks_here()
        rec = _rec
        if rec is not None:
            clock.span = _safe(rec.begin_task, clock.start, clock.thread_pool)
        try:
            timed = clock.per_item(task)
        except Exception:
            timed = None
        clock.items_timed = timed is not None
        return task if timed is None else timed

    def __getattr__(self, name):
        return getattr(self._fc_queue, name)


class _ResultQueue:
    """A worker's result queue: put() stops the task clock."""

    def __init__(self, queue, clock):
        self._fc_queue = queue
        self._fc_clock = clock

    def put(self, *args, **kwargs):
        end = _ns()
        clock = self._fc_clock
        start, clock.start = clock.start, None
        rec = _rec
        if rec is not None:
            _safe(rec.end_task, end, clock.span)
        if start is not None and rec is not None:
            # An engine's batch inside the task timed its own calls (joblib on a Pool).
            items_timed = clock.items_timed or _engine_tasks_here() != clock.engine_tasks
            try:
                rec.task(None if items_timed else end - start, clock.source, chunk=True)
            except Exception:
                pass
        return self._fc_queue.put(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._fc_queue, name)


def _in_main_thread():
    threading = sys.modules.get("threading")
    return threading is None or threading.current_thread() is threading.main_thread()


def _patch_pool(m):
    if getattr(m, "_fc_patched", False):
        return
    m._fc_patched = True
    worker = m.worker
    star = (m.mapstar, m.starmapstar)

    def per_item(task):
        job, i, func, args, kwds = task
        if func in star and len(args) == 1 and len(args[0]) == 2:
            fn, chunk = args[0]
            return (job, i, func, ((_timed(fn, _POOL), chunk),), kwds)
        return None

    @_wraps(worker)
    def fc_worker(inqueue, outqueue, *args, **kwargs):
        clock = _TaskClock(_POOL, per_item)
        clock.thread_pool = not _in_main_thread()
        if _rec is not None and not clock.thread_pool:
            _safe(_rec.set_role, "pool_worker")
        return worker(*clock.queues(inqueue, outqueue), *args, **kwargs)

    m.worker = fc_worker
    pool = m.Pool
    init = pool.__init__

    @_wraps(init)
    def fc_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        _safe(_pool_event, self, m)

    pool.__init__ = fc_init
    map_async = pool._map_async

    @_wraps(map_async)
    def fc_map_async(self, func, iterable, mapper, *args, **kwargs):
        if getattr(self, "_state", None) == m.RUN and not hasattr(iterable, "__len__"):
            iterable = list(iterable)  # what _map_async does first anyway
        chunksize = args[0] if args else kwargs.get("chunksize")
        api = "starmap" if mapper is m.starmapstar else "map"
        _safe(_pool_chunksize, self, api, chunksize, iterable)
        return map_async(self, func, iterable, mapper, *args, **kwargs)

    pool._map_async = fc_map_async
    for api in ("imap", "imap_unordered"):
        _patch_imap(pool, api)


def _patch_imap(pool, api):
    orig = getattr(pool, api)

    @_wraps(orig)
    def fc_imap(self, func, iterable, *args, **kwargs):
        given = args[0] if args else kwargs.get("chunksize")
        rec = _rec
        if rec is not None:
            _safe(
                rec.event, ev="chunksize", api=api, chunksize=1 if given is None else given,
                default=given is None, items=_safe(len, iterable), workers=_safe(len, self._pool),
            )
        return orig(self, func, iterable, *args, **kwargs)

    setattr(pool, api, fc_imap)


def _pool_event(pool, m):
    rec = _rec
    if rec is None:
        return
    thread_pool = isinstance(pool, m.ThreadPool)
    method = None if thread_pool else pool._ctx.get_start_method(allow_none=True)
    rec.event(ev="pool", api=type(pool).__name__, workers=pool._processes, start_method=method)


def _pool_chunksize(pool, api, chunksize, iterable):
    rec = _rec
    if rec is None:
        return
    items = len(iterable)
    workers = len(pool._pool)
    default = chunksize is None
    if default:
        chunksize, extra = divmod(items, workers * 4)
        if extra:
            chunksize += 1
        if items == 0:
            chunksize = 0
    rec.event(ev="chunksize", api=api, chunksize=chunksize, default=default, items=items,
              workers=workers)


def _patch_process(m):
    base = m.BaseProcess
    if getattr(base, "_fc_patched", False):
        return
    base._fc_patched = True
    start = base.start
    bootstrap = base._bootstrap

    @_wraps(start)
    def fc_start(self, *args, **kwargs):
        at = _ns()
        threads = _safe(_threads_now) or (0, 0)
        result = start(self, *args, **kwargs)
        rec = _rec
        popen = getattr(self, "_popen", None)
        method = getattr(popen, "method", None)
        if rec is not None and method in _STARTS:
            _safe(rec.started, getattr(popen, "pid", None), method, at, *threads)
        return result

    @_wraps(bootstrap)
    def fc_bootstrap(self, *args, **kwargs):
        rec = _rec
        if rec is not None and rec.role == "process":
            _safe(rec.set_role, "mp_child")
        return bootstrap(self, *args, **kwargs)

    base.start = fc_start
    base._bootstrap = fc_bootstrap


def _patch_futures_process(m):
    if getattr(m, "_fc_patched", False):
        return
    m._fc_patched = True
    worker = m._process_worker
    chunk_fn = m._process_chunk
    import functools

    def per_item(call_item):
        fn = call_item.fn
        if isinstance(fn, functools.partial) and fn.func is chunk_fn and len(fn.args) == 1:
            call_item.fn = functools.partial(chunk_fn, _timed(fn.args[0], _PROCESS_POOL))
            return call_item
        return None

    @_wraps(worker)
    def fc_process_worker(call_queue, result_queue, *args, **kwargs):
        clock = _TaskClock(_PROCESS_POOL, per_item)
        if _rec is not None:
            _safe(_rec.set_role, "process_pool_worker")
        return worker(*clock.queues(call_queue, result_queue), *args, **kwargs)

    m._process_worker = fc_process_worker
    executor = m.ProcessPoolExecutor
    init = executor.__init__
    emap = executor.map

    @_wraps(init)
    def fc_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        rec = _rec
        if rec is not None:
            _safe(
                lambda: rec.event(
                    ev="pool", api="ProcessPoolExecutor", workers=self._max_workers,
                    start_method=self._mp_context.get_start_method(allow_none=True),
                )
            )

    @_wraps(emap)
    def fc_map(self, fn, *iterables, **kwargs):
        rec = _rec
        if rec is not None:
            _safe(
                rec.event, ev="chunksize", api="executor_map",
                chunksize=kwargs.get("chunksize", 1), default="chunksize" not in kwargs,
                items=None, workers=_safe(lambda: self._max_workers),
            )
        return emap(self, fn, *iterables, **kwargs)

    executor.__init__ = fc_init
    executor.map = fc_map


def _patch_futures_thread(m):
    item = m._WorkItem
    if getattr(item, "_fc_patched", False):
        return
    item._fc_patched = True
    run = item.run

    @_wraps(run)
    def fc_run(self, *args, **kwargs):
        t0 = _ns()
        engine0 = _engine_tasks_here()
        rec = _rec
        # The span the GIL knocker reads: the user's tasks only, as counted below.
        span = None
        if rec is not None and not any(m in sys.modules for m in _ENGINE_MODULES):
            span = _safe(rec.begin_task, t0, True)
        try:
            return run(self, *args, **kwargs)
        finally:
            t1 = _ns()
            dt = t1 - t0
            rec = _rec
            if span is not None and rec is not None:
                _safe(rec.end_task, t1, span)
            if rec is not None:
                try:
                    # A Dask task in its worker's executor counted itself already; and in a
                    # process that runs Dask or Ray, their own executors' items (Dask's
                    # offload thread, asyncio's resolver) are not the user's tasks.
                    if (not self.future.cancelled() and _engine_tasks_here() == engine0
                            and not any(m in sys.modules for m in _ENGINE_MODULES)):
                        rec.task(dt, _THREAD_POOL)
                except Exception:
                    pass

    item.run = fc_run


# --- engines: joblib, Dask, Ray ------------------------------------------------------------------
# Each engine is hooked at the function it calls once per task of the user's, the least internal
# name that sees every task: joblib's BatchedCalls (every backend runs its calls through it),
# Dask's worker._run_task_simple (the worker's own timing of a task), Ray's
# FunctionActorManager.get_execution_info (the function a Ray worker runs per task). When an
# engine renames one, its patch finds nothing and does nothing: its tasks go uncounted and the
# report says task durations were not measured, as for any pool the probe does not know.

# Engines whose own thread pools run more than the user's tasks.
_ENGINE_MODULES = ("distributed", "ray")
_engine_tls = None  # per-thread count of engine tasks, so a pool around them does not count twice


def _engine_tasks_here():
    tls = _engine_tls
    return getattr(tls, "n", 0) if tls is not None else 0


def _engine_span(fn, role):
    """fn, timed as one task of an engine's worker; the process takes `role` at its first."""

    def fc_engine_task(*args, **kwargs):
        rec = _rec
        if rec is None:
            return fn(*args, **kwargs)
        if rec.role in ("process", "mp_child") and role:
            _safe(rec.set_role, role)
        t0 = _ns()
        seen = rec.tasks_seen
        # Inside a Pool task already clocked (joblib's multiprocessing backend): that clock
        # opened the span the knocker reads, and closes it.
        span = None
        if not (seen and seen[-1][1] is None):
            span = _safe(rec.begin_task, t0)
        try:
            return fn(*args, **kwargs)
        finally:
            t1 = _ns()
            try:
                if span is not None:
                    rec.end_task(t1, span)
                rec.task(t1 - t0, _ENGINE)
                tls = _engine_tls
                if tls is not None:
                    tls.n = getattr(tls, "n", 0) + 1
            except Exception:
                pass

    return fc_engine_task


def _patch_joblib_parallel(m):
    """BatchedCalls.__call__ runs a batch of the user's calls in any backend's worker: each
    (func, args, kwargs) item is timed on its own. Past the items' shape it times the batch."""
    batched = m.BatchedCalls
    if getattr(batched, "_fc_patched", False):
        return
    batched._fc_patched = True
    call = batched.__call__

    @_wraps(call)
    def fc_call(self):
        items = getattr(self, "items", None)
        role = "loky_worker" if _rec is not None and _rec.role == "loky_worker" else None
        if not isinstance(items, list) or not all(type(i) is tuple and len(i) == 3 for i in items):
            return _engine_span(call, role)(self)
        self.items = [(_engine_span(f, role), a, k) for f, a, k in items]
        try:
            return call(self)
        finally:
            self.items = items

    batched.__call__ = fc_call


def _patch_loky_reduction(m):
    """loky pickles calls with its own pickler, not ForkingPickler: count its bytes the same."""
    dumps = m.dumps
    if getattr(dumps, "_fc_patched", False):
        return

    @_wraps(dumps)
    def fc_dumps(obj, *args, **kwargs):
        t0 = _ns()
        data = dumps(obj, *args, **kwargs)
        t1 = _ns()
        rec = _rec
        if rec is not None:
            _safe(rec.add3, _PICKLED, _nbytes(data), t1 - t0)
        return data

    fc_dumps._fc_patched = True
    m.dumps = fc_dumps


def _nbytes(data):
    return data.nbytes if type(data) is memoryview else len(data)


def _patch_joblib_memmap(m):
    """An array over max_nbytes goes to a file in /dev/shm once, and each call carries a
    reference to it: its bytes pass by reference."""
    reducer = m.ArrayMemmapForwardReducer
    if getattr(reducer, "_fc_patched", False):
        return
    reducer._fc_patched = True
    call = reducer.__call__

    @_wraps(call)
    def fc_call(self, a):
        t0 = _ns()
        out = call(self, a)
        rec = _rec
        if rec is not None:
            try:
                limit = self._max_nbytes
                mapped = m._get_backing_memmap(a) is not None
                if mapped or (limit is not None and not a.dtype.hasobject and a.nbytes > limit):
                    rec.add3(_SHARED, int(a.nbytes), _ns() - t0)
            except Exception:
                pass
        return out

    reducer.__call__ = fc_call


def _patch_dask_worker(m):
    run = getattr(m, "_run_task_simple", None)
    if run is None or getattr(run, "_fc_patched", False):
        return
    timed = _engine_span(run, "dask_worker")
    timed._fc_patched = True
    m._run_task_simple = _wraps(run)(timed)


def _patch_ray_functions(m):
    """Each function a Ray worker runs comes from get_execution_info: wrap it once. Actor
    methods run in the actor's process, which is a service the tasks call, not a worker."""
    manager = m.FunctionActorManager
    if getattr(manager, "_fc_patched", False):
        return
    manager._fc_patched = True
    get = manager.get_execution_info

    @_wraps(get)
    def fc_get(self, job_id, descriptor):
        info = get(self, job_id, descriptor)
        try:
            cache = self.__dict__.setdefault("_fc_timed", {})
            key = id(info.function)
            timed = cache.get(key)
            if timed is None:
                actor = getattr(descriptor, "class_name", "")
                if actor:
                    rec = _rec
                    if rec is not None and rec.role in ("ray_worker", "process"):
                        rec.set_role("ray_actor")
                    if rec is not None and rec.role == "ray_actor":
                        _safe(_name_actor, rec, self, actor)
                    timed = info.function
                else:
                    timed = _engine_span(info.function, "ray_worker")
                cache[key] = (timed, info.function)  # the original kept alive: its id stays unique
            else:
                timed = timed[0]
            return info._replace(function=timed)
        except Exception:
            return info

    manager.get_execution_info = fc_get


def _name_actor(rec, manager, class_name):
    """The actor this process serves, once its id is known: tasks that wait on it name it by
    that id (`actor_wait` events), and the analysis finds its process by this event."""
    if getattr(rec, "actor_named", False):
        return
    actor_id = manager._worker.actor_id
    if actor_id.is_nil():
        return
    rec.actor_named = True
    rec.event(ev="actor", actor=actor_id.hex(), class_name=class_name)


_not_actor = {}  # job id (bytes) -> the actor id every normal task of that job carries


def _actors_of(refs):
    """The actor ids (hex) whose methods produced `refs`: an actor task's id carries its
    actor's id, and a normal task's carries the job's nil actor id (TaskID.for_driver_task's)."""
    from ray._raylet import TaskID

    out = []
    for ref in refs:
        task = ref.task_id()
        actor = task.actor_id()
        job = task.job_id()
        nil = _not_actor.get(job.binary())
        if nil is None:
            nil = _not_actor[job.binary()] = TaskID.for_driver_task(job).actor_id().binary()
        if actor.binary() != nil and not actor.is_nil():
            hexed = actor.hex()
            if hexed not in out:
                out.append(hexed)
    return out


def _patch_ray_worker(m):
    """ray.put's bytes go to the object store once and pass by reference; every other
    serialisation (a large argument passed by value, once per call) is a copy. A task that
    waits in get_objects (ray.get) for an actor method's result waits on that actor: Ray's
    core worker waits on a condition variable, which the sampler sees only as a futex, so the
    wait is timed here, per actor."""
    worker = m.Worker
    if getattr(worker, "_fc_patched", False):
        return
    worker._fc_patched = True
    put = worker.put_object
    get = worker.get_objects

    @_wraps(get)
    def fc_get_objects(self, object_refs, *args, **kwargs):
        rec = _rec
        if rec is None or rec.role != "ray_worker" or not isinstance(object_refs, list):
            return get(self, object_refs, *args, **kwargs)
        actors = _safe(_actors_of, object_refs)
        if not actors:
            return get(self, object_refs, *args, **kwargs)
        t0 = _ns()
        try:
            return get(self, object_refs, *args, **kwargs)
        finally:
            # A get of several actors' results is one wait: it counts on the first.
            _safe(rec.actor_wait, actors[0], _ns() - t0)

    worker.get_objects = fc_get_objects

    @_wraps(put)
    def fc_put(self, value, *args, **kwargs):
        tls = _engine_tls
        if tls is not None:
            tls.in_put = True
        try:
            return put(self, value, *args, **kwargs)
        finally:
            if tls is not None:
                tls.in_put = False

    worker.put_object = fc_put


def _patch_ray_serialization(m):
    context = m.SerializationContext
    if getattr(context, "_fc_patched", False):
        return
    context._fc_patched = True
    serialize = context.serialize

    @_wraps(serialize)
    def fc_serialize(self, value, *args, **kwargs):
        t0 = _ns()
        out = serialize(self, value, *args, **kwargs)
        rec = _rec
        if rec is not None:
            try:
                n = int(out.total_bytes)
                by_ref = getattr(_engine_tls, "in_put", False)
                rec.add3(_SHARED if by_ref else _STORED, n, _ns() - t0)
            except Exception:
                pass
        return out

    context.serialize = fc_serialize


# --- databases: a row every transaction writes ---------------------------------------------------
# A transaction that writes a row holds the row's lock until it ends. Where a process's
# transactions write the same statement with the same parameters (a progress counter, a
# totals row), they write the same rows, and every worker running that code takes the same
# lock: the span from that write to the transaction's end is serial across the workers,
# whatever it does in between (computing, as an ORM job often does). One worker shows that
# span, which no wait shows until a second one contends. Hooked in psycopg 3 (PostgreSQL):
# Cursor.execute sees the statement, Connection.wait every round trip's end, after which the
# connection's transaction status says whether the transaction is over.

_DB_ROWS = None  # connection -> _RowState (weak keys: a closed connection's state goes with it)


class _RowState:
    __slots__ = ("txn", "seen", "hold")

    def __init__(self):
        self.txn = 0  # transactions ended on this connection so far
        self.seen = {}  # (statement, parameters) -> the transaction that last wrote it
        self.hold = None  # ns when this transaction first wrote a row an earlier one wrote


def _locks_rows(sql):
    """Whether a statement takes row locks held to its transaction's end."""
    s = sql.lstrip()[:6].lower()
    if s in ("update", "delete"):
        return True
    low = sql.lower()
    if s == "select":
        return " for update" in low or " for share" in low or " for no key update" in low
    return s == "insert" and "on conflict" in low and "do update" in low


def _row_state(conn):
    global _DB_ROWS
    if _DB_ROWS is None:
        import weakref

        _DB_ROWS = weakref.WeakKeyDictionary()
    st = _DB_ROWS.get(conn)
    if st is None:
        st = _DB_ROWS[conn] = _RowState()
    return st


def _row_write(conn, query, params):
    if isinstance(query, bytes):
        query = query.decode("utf-8", "replace")
    if not isinstance(query, str) or not _locks_rows(query):
        return
    st = _row_state(conn)
    key = (query, repr(params))
    seen = st.seen
    last = seen.get(key)
    if len(seen) >= 1024:
        seen.clear()
    seen[key] = st.txn
    if last is not None and last != st.txn and st.hold is None:
        st.hold = _ns()


def _row_round_trip_ended(conn):
    """After a round trip: a transaction that is over releases its rows' locks."""
    st = _DB_ROWS.get(conn) if _DB_ROWS is not None else None
    if st is None or conn.pgconn.transaction_status != 0:  # 0: IDLE, no transaction open
        return
    if st.hold is not None:
        rec = _rec
        if rec is not None:
            rec.add2(_ROW_HOLDS, 1, _ns() - st.hold)
        st.hold = None
    st.txn += 1


def _patch_psycopg_cursor(m):
    cursor = m.Cursor
    if getattr(cursor, "_fc_patched", False):
        return
    cursor._fc_patched = True
    execute = cursor.execute

    @_wraps(execute)
    def fc_execute(self, query, params=None, *args, **kwargs):
        if _rec is not None:
            _safe(_row_write, self._conn, query, params)
        return execute(self, query, params, *args, **kwargs)

    cursor.execute = fc_execute


def _patch_psycopg_connection(m):
    conn = m.Connection
    if getattr(conn, "_fc_patched", False):
        return
    conn._fc_patched = True
    wait = conn.wait

    @_wraps(wait)
    def fc_wait(self, *args, **kwargs):
        try:
            return wait(self, *args, **kwargs)
        finally:
            if _DB_ROWS is not None:
                _safe(_row_round_trip_ended, self)

    conn.wait = fc_wait


_PATCHES = {
    "multiprocessing.reduction": _patch_reduction,
    "multiprocessing.process": _patch_process,
    "multiprocessing.pool": _patch_pool,
    "concurrent.futures.process": _patch_futures_process,
    "concurrent.futures.thread": _patch_futures_thread,
    "joblib.parallel": _patch_joblib_parallel,
    "joblib._memmapping_reducer": _patch_joblib_memmap,
    "joblib.externals.loky.backend.reduction": _patch_loky_reduction,
    "distributed.worker": _patch_dask_worker,
    "ray._private.function_manager": _patch_ray_functions,
    "ray._private.worker": _patch_ray_worker,
    "ray._private.serialization": _patch_ray_serialization,
    "psycopg.cursor": _patch_psycopg_cursor,
    "psycopg.connection": _patch_psycopg_connection,
}

_out = os.environ.get(_ENV)
if _out:
    try:
        _activate(_out)
    except Exception:
        _rec = None
del _out

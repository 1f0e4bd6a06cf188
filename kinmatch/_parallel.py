"""Forked worker processes for the CPU-bound stages (normalizing, comparing, explaining).

Fork, not spawn: a worker starts as a copy of the parent, so the loaded gazetteers and the
prepared comparison arrays (hundreds of MB at a million reports) are shared instead of pickled to
each worker; spawning would also re-import pandas and kinmatch in every worker, which costs more
than the work at the sizes where the pool pays. Platforms without fork, and sandboxes that allow no
new processes, run the same work in-process.

Interrupting (Ctrl-C) is the parent's business alone. A worker ignores SIGINT (a terminal sends
it to the whole process group); while workers live, the parent's SIGINT handler kills them
(SIGKILL) before raising ``KeyboardInterrupt`` as usual, and whoever waits for them reaps them and
raises ``KeyboardInterrupt``. A worker dies with the thread that forked it (Linux
``PR_SET_PDEATHSIG``), so a parent killed outright (``kill -9``) leaves no worker computing. No
``multiprocessing`` pool is used: an interrupted pool can wait for ever on a worker holding its
task queue's lock.

    >>> fork_map(abs, [-1, -2], n_jobs=1)
    [1, 2]
"""

from __future__ import annotations

import contextlib
import contextvars
import multiprocessing
import os
import pickle
import signal
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

try:
    FORK = multiprocessing.get_context("fork")
except ValueError:  # pragma: no cover - Windows
    FORK = None
"""Not None where processes can be forked (the ``fork`` start method exists)."""

_SHARED: Any = None


def resolve_jobs(n_jobs: int | None) -> int:
    """``n_jobs`` (at least 1), or the CPUs this process may use when it is None."""
    if n_jobs is not None:
        return max(1, int(n_jobs))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_JOBS_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar("kinmatch_jobs_limit", default=None)


@contextlib.contextmanager
def jobs_limit(n_jobs: int | None) -> Iterator[None]:
    """Within the block, :func:`allowed_jobs` is at most ``n_jobs`` (None: no limit): a run asked
    for one job (``--jobs 1``) keeps to one core also where a step could use threads."""
    token = _JOBS_LIMIT.set(None if n_jobs is None else resolve_jobs(n_jobs))
    try:
        yield
    finally:
        _JOBS_LIMIT.reset(token)


def allowed_jobs() -> int:
    """The CPUs a step may use: those of this process, within the innermost :func:`jobs_limit`."""
    limit = _JOBS_LIMIT.get()
    cpus = resolve_jobs(None)
    return cpus if limit is None else min(limit, cpus)


def shared() -> Any:
    """What the parent passed as ``shared`` to :func:`fork_map` (read it inside ``func``)."""
    return _SHARED


# ---------------------------------------------------------------------------------------------
# the workers this process forked and has not reaped, and the SIGINT handler that kills them


class _Worker:
    """One forked worker: its pid and the parent's ends of its pipes (``answers`` to read, ``tasks``
    to write, for :func:`fork_map`'s workers). Killed and reaped at most once each."""

    def __init__(self, pid: int, answers: int, tasks: int | None = None):
        self.pid, self.answers, self.tasks = pid, answers, tasks
        self.interrupted = False  # killed by the parent's SIGINT handler
        self.status: int | None = None
        self.item = -1  # fork_map: the item it works on

    def kill(self) -> None:
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def reap(self) -> int:
        """Wait for the worker to end (kill it first if its answer is no longer wanted) and close
        the parent's ends of its pipes."""
        if self.status is None:
            try:
                _pid, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # reaped elsewhere (a handler of the caller's)
                self.status = 0
            _forget(self)
            for fd in (self.answers, self.tasks):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        return self.status

    def stop(self) -> None:
        self.kill()
        self.reap()


_LIVE: dict[int, _Worker] = {}
_PREVIOUS_HANDLER: list = []  # the SIGINT handler ours replaced, while workers live


def _on_interrupt(signum: int, frame: Any) -> None:
    """The parent's SIGINT handler while it has workers: kill them, then do what the handler it
    replaced does (``KeyboardInterrupt``)."""
    for worker in list(_LIVE.values()):
        worker.interrupted = True
        worker.kill()
    previous = _PREVIOUS_HANDLER[-1] if _PREVIOUS_HANDLER else signal.default_int_handler
    previous(signum, frame)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _remember(worker: _Worker) -> None:
    if not _LIVE and _in_main_thread() and not _PREVIOUS_HANDLER:
        previous = signal.getsignal(signal.SIGINT)
        if callable(previous) and previous is not _on_interrupt:  # not ignored, not the default (death)
            _PREVIOUS_HANDLER.append(previous)
            signal.signal(signal.SIGINT, _on_interrupt)
    _LIVE[worker.pid] = worker


def _forget(worker: _Worker) -> None:
    _LIVE.pop(worker.pid, None)
    if not _LIVE and _PREVIOUS_HANDLER and _in_main_thread():
        previous = _PREVIOUS_HANDLER.pop()
        if signal.getsignal(signal.SIGINT) is _on_interrupt:
            signal.signal(signal.SIGINT, previous)


_PRCTL: list = []


def _prctl() -> Any:
    """libc's ``prctl`` (Linux), looked up once in the parent, or None. (``ctypes``: the standard
    library has no prctl.)"""
    if not _PRCTL:
        found = None
        with contextlib.suppress(Exception):
            import ctypes
            import sys

            if sys.platform.startswith("linux"):
                found = ctypes.CDLL(None, use_errno=True).prctl
        _PRCTL.append(found)
    return _PRCTL[0]


def _fork(answers: int, tasks: int | None = None, keep: tuple[int, ...] = ()) -> _Worker | None:
    """Fork a worker. In the parent: the :class:`_Worker` (remembered until reaped); in the
    worker: None, with SIGINT ignored, the parent's record of other workers forgotten and their
    pipe ends closed (except ``keep``, its own), and death with the forking thread arranged.
    SIGINT is held back across the fork, so a Ctrl-C finds the new worker remembered (killed by the
    handler) or not yet forked. Raises OSError where no process may be started."""
    prctl = _prctl() if _in_main_thread() else None
    parent = os.getpid()
    held = hasattr(signal, "pthread_sigmask") and _in_main_thread()
    if held:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            others = [fd for w in _LIVE.values() for fd in (w.answers, w.tasks) if fd is not None and fd not in keep]
            _LIVE.clear()
            _PREVIOUS_HANDLER.clear()
            for fd in others:
                with contextlib.suppress(OSError):
                    os.close(fd)
            if prctl is not None:
                prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG, <sys/prctl.h>
                if os.getppid() != parent:  # the parent died before that: go too
                    os._exit(1)
            return None
        worker = _Worker(pid, answers, tasks)
        _remember(worker)
        return worker
    finally:
        if held:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


_INTERRUPTS: list[float] = []


@contextlib.contextmanager
def interrupts_noted() -> Iterator[None]:
    """While the block runs, note each SIGINT this process receives (then raise
    ``KeyboardInterrupt`` as before), so that :func:`interrupted` can tell an error a library made
    of a Ctrl-C from a real one: pandas' C parser, interrupted while reading a file, raises
    ``ParserError("Calling read(nbytes) on source failed…")`` and the ``KeyboardInterrupt`` is
    lost. Only in the main thread, and only over Python's own SIGINT handler."""
    _INTERRUPTS.clear()
    if not _in_main_thread() or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return

    def noted(signum: int, frame: Any) -> None:
        _INTERRUPTS.append(1.0)
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, noted)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is noted:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def interrupted() -> bool:
    """Whether a SIGINT reached this process during the last :func:`interrupts_noted` block."""
    return bool(_INTERRUPTS)


# ---------------------------------------------------------------------------------------------
# messages on pipes: 8 bytes of length, then a pickle of (ok, value or error, traceback text)


def _send(fd: int, ok: bool, value: Any, text: str) -> None:
    import pickle

    try:
        payload = pickle.dumps((ok, value, text), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # an unpicklable result or error: its text goes instead
        payload = pickle.dumps((False, RuntimeError(f"{value!r} (could not be sent back: {error})"), text),
                               protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(len(payload).to_bytes(8, "little") + payload)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, size: int) -> bytearray | None:
    """``size`` bytes from the pipe ``fd``, or None if it ends first."""
    buffer = bytearray(size)
    view, done = memoryview(buffer), 0
    while done < size:
        got = os.readv(fd, [view[done:]])
        if got == 0:
            return None
        done += got
    return buffer


def _receive(fd: int) -> tuple | None:
    """The next message on ``fd``, or None if the worker ended without one."""
    import pickle

    header = _read_exactly(fd, 8)
    if header is None:
        return None
    payload = _read_exactly(fd, int.from_bytes(header, "little"))
    return None if payload is None else pickle.loads(payload)


def _raise_answer(answer: tuple) -> Any:
    ok, value, text = answer
    if ok:
        return value
    if text and hasattr(value, "add_note") and text not in getattr(value, "__notes__", ()):
        value.add_note(f"in the worker process:\n{text}")
    raise value


def _no_answer(worker: _Worker) -> BaseException:
    """What to raise for a worker that ended without an answer (reaped)."""
    if worker.interrupted:
        return KeyboardInterrupt()
    return ChildProcessError(f"the worker process {worker.pid} ended without an answer (exit status "
                             f"{os.waitstatus_to_exitcode(worker.status)}; killed, or out of memory?)")


def _run(func: Callable, argument: Any, fd: int) -> bool:
    """In a worker: ``func(argument)`` (or ``func()`` when ``argument`` is :data:`_NOTHING`), its
    answer sent on ``fd``; whether it succeeded."""
    import traceback

    try:
        value = func() if argument is _NOTHING else func(argument)
    except BaseException as error:  # noqa: B036 - whatever it was, the parent raises it
        _send(fd, False, error, traceback.format_exc())
        return False
    _send(fd, True, value, "")
    return True


_NOTHING = object()


# ---------------------------------------------------------------------------------------------
# fork_map


def fork_map(func: Callable[[Any], Any], items: Iterable[Any], n_jobs: int, shared: Any = None,
             progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None) -> list:
    """``[func(item) for item in items]``, in forked workers when ``n_jobs > 1``.

    ``shared`` is inherited by the workers (not pickled); ``func`` reads it with :func:`shared`.
    ``func`` and the items are inherited too; the results are pickled, so keep them small (ranges
    in, arrays out). Each worker takes the next item when it has sent its result (as a pool with
    ``imap``); results come back in the items' order. ``progress`` wraps the result iterator (e.g. a
    tqdm bar). A worker's error is raised here (its traceback as a note); a worker that dies
    without an answer raises ``ChildProcessError``; Ctrl-C raises ``KeyboardInterrupt``; every
    worker is killed and reaped before this returns or raises."""
    global _SHARED
    items = list(items)
    wrap = progress or (lambda it: it)
    _SHARED = shared
    try:
        if n_jobs > 1 and len(items) > 1 and FORK is not None:
            workers: list[_Worker] = []
            try:
                if _start_workers(func, items, min(n_jobs, len(items)), workers):
                    return list(wrap(_answers(workers, len(items))))
            finally:
                for worker in workers:  # done ones exit when their task pipe closes; others are killed
                    if worker.tasks is not None and worker.item is None:
                        os.close(worker.tasks)
                        worker.tasks = None
                        worker.reap()
                    else:
                        worker.stop()
        return [func(item) for item in wrap(items)]
    finally:
        _SHARED = None


def _start_workers(func: Callable[[Any], Any], items: list, n: int, workers: list[_Worker]) -> bool:
    """Fork ``n`` workers of :func:`fork_map` into ``workers``; False (none left running) where no
    process may be started."""
    for _ in range(n):
        tasks_read, tasks_write = os.pipe()
        answers_read, answers_write = os.pipe()
        try:
            worker = _fork(answers_read, tasks_write, keep=(tasks_read, answers_write))
        except OSError:  # no processes allowed here (sandbox, limits): same work in-process
            for fd in (tasks_read, tasks_write, answers_read, answers_write):
                os.close(fd)
            for started in workers:
                started.stop()
            workers.clear()
            return False
        if worker is None:
            os.close(tasks_write)
            os.close(answers_read)
            _serve_items(func, items, tasks_read, answers_write)  # never returns
        os.close(tasks_read)
        os.close(answers_write)
        workers.append(worker)
    return True


def _serve_items(func: Callable[[Any], Any], items: list, tasks: int, answers: int) -> None:
    """In a :func:`fork_map` worker: for each item number read from ``tasks``, send ``func(item)``'s
    answer on ``answers``; stop at the end of ``tasks`` or after an error; exit at once (no
    interpreter teardown, no flushing of buffers copied from the parent)."""
    code = 0
    try:
        while True:
            number = _read_exactly(tasks, 8)
            if number is None or not _run(func, items[int.from_bytes(number, "little")], answers):
                break
    except BaseException:  # noqa: B036 - the parent reads a closed pipe and says so
        code = 1
    finally:
        os._exit(code)


def _answers(workers: list[_Worker], n: int) -> Iterator[Any]:
    """The parent's side of :func:`fork_map`: hand out item numbers, yield the results in order."""
    import selectors

    selector = selectors.DefaultSelector()
    next_item, emitted, done = 0, 0, {}
    for worker in workers:
        worker.item, next_item = next_item, next_item + 1
        os.write(worker.tasks, worker.item.to_bytes(8, "little"))
        selector.register(worker.answers, selectors.EVENT_READ, worker)
    with selector:
        while emitted < n:
            if emitted in done:
                yield done.pop(emitted)
                emitted += 1
                continue
            for key, _events in selector.select():
                worker = key.data
                answer = _receive(worker.answers)
                if answer is None:
                    worker.reap()
                    raise _no_answer(worker)
                done[worker.item] = _raise_answer(answer)
                if next_item < n:
                    worker.item, next_item = next_item, next_item + 1
                    os.write(worker.tasks, worker.item.to_bytes(8, "little"))
                else:
                    selector.unregister(worker.answers)
                    worker.item = None  # finished: it exits when its task pipe is closed


# ---------------------------------------------------------------------------------------------
# fork_call


def fork_call(func: Callable[[], Any], shared: Any = None, enabled: bool = True) -> Callable[[], Any]:
    """Start ``func()`` in one forked worker and return a function that waits for its result, so
    the parent can do other work meanwhile (e.g. generate candidates while the comparisons'
    arrays are prepared). ``func`` reads ``shared`` with :func:`shared`; its result is pickled.
    Without fork, or with ``enabled`` False, ``func`` runs now, in-process.

    The worker's error is raised by the waiting function (its traceback as a note); a worker that
    dies without a result raises ``ChildProcessError``, one killed by a Ctrl-C of the parent
    ``KeyboardInterrupt``. The waiting function always reaps the worker, so call it (in a
    ``finally``) whatever the parent's own work did, or its ``cancel()`` to kill and reap the
    worker when its answer is no longer wanted.

        >>> fork_call(lambda: 41 + 1, enabled=False)()
        42
    """
    global _SHARED
    if enabled and FORK is not None:
        read_end, write_end = os.pipe()
        _SHARED = shared
        try:
            worker = _fork(read_end, keep=(write_end,))
        except OSError:  # no processes allowed here: run it now
            os.close(read_end)
            os.close(write_end)
        else:
            if worker is None:
                os.close(read_end)
                code = 0
                try:
                    _run(func, _NOTHING, write_end)
                except BaseException:  # noqa: B036 - the parent reads a closed pipe and says so
                    code = 1
                finally:
                    os._exit(code)
            os.close(write_end)
            return _Waiting(worker)
        finally:
            _SHARED = None  # the worker has its copy; the parent's stays clean
    _SHARED = shared
    try:
        value = func()
    finally:
        _SHARED = None
    return _Done(value)


class _Done:
    """What :func:`fork_call` returns when it ran ``func`` in-process: its value, when called."""

    def __init__(self, value: Any):
        self.value = value

    def __call__(self, reap: bool = True) -> Any:
        return self.value

    def cancel(self) -> None:
        """Nothing to stop (see :meth:`_Waiting.cancel`)."""


class _Waiting:
    """The parent's side of :func:`fork_call`: called, it reads the worker's answer and reaps it.
    ``reap=False`` leaves a worker that answered with a value to be reaped by a later call (or
    :meth:`cancel`): its exit (unmapping its copy of a large parent takes tens of milliseconds)
    then overlaps the parent's next work; a worker that failed is reaped at once."""

    def __init__(self, worker: _Worker):
        self.worker = worker
        self.pid = worker.pid
        self.answer: tuple | None = None

    def __call__(self, reap: bool = True) -> Any:
        if self.answer is None:
            answer = None
            try:
                answer = _receive(self.worker.answers)
            finally:
                if answer is None:  # the wait was interrupted (or the worker ended): it goes
                    self.worker.kill()
                if answer is None or reap or not answer[0]:
                    self.worker.reap()
            if answer is None:
                raise _no_answer(self.worker)
            self.answer = answer
        elif reap:
            self.worker.reap()
        return _raise_answer(self.answer)

    def cancel(self) -> None:
        """Kill the worker and reap it, when its answer is no longer wanted (the parent failed)."""
        if self.answer is not None:
            self.worker.reap()  # it answered: it has ended, or is ending
            return
        self.worker.stop()
        self.answer = (False, RuntimeError(f"the worker process {self.pid} was stopped"), "")


_MALLOC_KEPT: list[bool] = []


def keep_freed_memory() -> None:
    """In a worker process, once: glibc's mmap threshold at its ceiling (32 MB on 64-bit) and the
    trim threshold twice it, as glibc pairs them, so many numpy temporaries below 32 MB reuse freed
    heap memory instead of being mapped, page-faulted and zeroed afresh by the kernel each time.
    Used by the index's forked candidate lookup and by Dask workers (whose nanny sets
    ``MALLOC_TRIM_THRESHOLD_=65536``, which also turns off glibc's growing mmap threshold). A worker's
    allocator settings end with it. A no-op off glibc. (``ctypes``: the standard library has no
    mallopt.)"""
    if _MALLOC_KEPT:
        return
    _MALLOC_KEPT.append(True)
    import ctypes
    import ctypes.util
    import sys

    with contextlib.suppress(Exception):
        name = ctypes.util.find_library("c")
        if sys.platform.startswith("linux") and name:
            libc = ctypes.CDLL(name)
            m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt parameters, <malloc.h>
            libc.mallopt(m_mmap_threshold, 32 * 2**20)
            libc.mallopt(m_trim_threshold, 64 * 2**20)


def on_thread(work: Callable[[], Any], name: str) -> Callable[[], Any]:
    """Start ``work`` on a daemon thread beside the caller's own work (worth it for work that lets
    go of the interpreter: numpy, a system call); returns a function that waits for it and gives
    its result, or raises, in the caller's thread, what it raised.

    >>> wait = on_thread(lambda: 6 * 7, "kinmatch-example")
    >>> wait()
    42
    """
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["value"] = work()
        except BaseException as error:  # noqa: B036 - raised in the caller's thread, by wait
            done["error"] = error

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()

    def wait() -> Any:
        thread.join()
        if "error" in done:
            raise done["error"]
        return done["value"]

    return wait


def claim_share(bounds: Any, front: bool) -> int | None:
    """The next share two processes split from both ends: ``bounds`` is a shared pair of counters
    (``FORK.Array("q", [first, end])``: the next share from the front, the end of those left), one
    process takes from the front, the other from the back; None when none is left."""
    with bounds.get_lock():
        first, end = bounds[0], bounds[1]
        if first >= end:
            return None
        if front:
            bounds[0] = first + 1
            return first
        bounds[1] = end - 1
        return end - 1


def pickle_to_file(fd: int, value: Any) -> int:
    """Pickle ``value`` to the start of the file ``fd`` (a worker's answer too large for a pipe:
    40 MB through a pipe's 64 KiB cost a tenth of a second of switching); the bytes written.
    Arrays' memory is written as it is (pickle protocol 5's out-of-band buffers: no copy into the
    pickle first), after a header of the pieces' sizes, each piece at a cache line."""
    buffers: list = []
    stream = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    pieces = [memoryview(stream), *(buffer.raw() for buffer in buffers)]
    header = struct.pack(f"<{len(pieces) + 1}q", len(pieces), *(piece.nbytes for piece in pieces))
    offset = end = 0
    for piece in (header, *pieces):
        write_to_file(fd, piece, offset)
        end = offset + len(memoryview(piece).cast("B"))
        offset = _aligned(end)
    return end


def pickle_from_file(fd: int, size: int) -> Any:
    """What :func:`pickle_to_file` wrote (``size`` bytes of the file ``fd``), unpickled: its arrays
    on the bytes read, not copied again."""
    data = read_from_file(fd, 0, size)
    view = memoryview(data)
    (n_pieces,) = struct.unpack_from("<q", data)
    sizes = struct.unpack_from(f"<{n_pieces}q", data, 8)
    pieces, start = [], _aligned(8 * (n_pieces + 1))
    for piece_size in sizes:
        pieces.append(view[start:start + piece_size])
        start = _aligned(start + piece_size)
    return pickle.loads(pieces[0], buffers=pieces[1:])


def _aligned(offset: int) -> int:
    """``offset`` rounded up to a cache line: arrays read where they were written stay aligned."""
    return -(-offset // 64) * 64


def write_to_file(fd: int, data: Any, offset: int) -> None:
    """Write ``data`` (bytes-like) into the file ``fd`` at ``offset``."""
    payload, written = memoryview(data), 0
    while written < len(payload):
        written += os.pwrite(fd, payload[written:], offset + written)


def read_from_file(fd: int, offset: int, size: int) -> bytearray:
    """The ``size`` bytes of the file ``fd`` from ``offset`` (what :func:`write_to_file` wrote)."""
    data = bytearray(size)
    view, done = memoryview(data), 0
    while done < size:
        got = os.preadv(fd, [view[done:]], offset + done)
        if got == 0:
            raise ChildProcessError(f"the worker's answer ended after {done} of {size} bytes")
        done += got
    return data

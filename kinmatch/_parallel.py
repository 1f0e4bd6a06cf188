"""Forked worker processes for the CPU-bound stages (normalizing, comparing, explaining).

Fork, not spawn: a worker starts as a copy of the parent, so the loaded gazetteers and the
prepared comparison arrays (hundreds of MB at a million reports) are shared instead of pickled to
each worker; spawning would also re-import pandas and kinmatch in every worker, which costs more
than the work at the sizes where the pool pays. Platforms without fork, and sandboxes that allow no
new processes, run the same work in-process.

    >>> fork_map(abs, [-1, -2], n_jobs=1)
    [1, 2]
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterable
from typing import Any

try:
    FORK = multiprocessing.get_context("fork")
except ValueError:  # pragma: no cover - Windows
    FORK = None

_SHARED: Any = None


def resolve_jobs(n_jobs: int | None) -> int:
    """``n_jobs`` (at least 1), or the CPUs this process may use when it is None."""
    if n_jobs is not None:
        return max(1, int(n_jobs))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def shared() -> Any:
    """What the parent passed as ``shared`` to :func:`fork_map` (read it inside ``func``)."""
    return _SHARED


def fork_map(func: Callable[[Any], Any], items: Iterable[Any], n_jobs: int, shared: Any = None,
             progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None) -> list:
    """``[func(item) for item in items]``, in forked workers when ``n_jobs > 1``.

    ``shared`` is inherited by the workers (not pickled); ``func`` reads it with :func:`shared`.
    Items and results are pickled, so keep them small (ranges in, arrays out). ``progress`` wraps
    the result iterator (e.g. a tqdm bar)."""
    global _SHARED
    items = list(items)
    wrap = progress or (lambda it: it)
    _SHARED = shared
    try:
        if n_jobs > 1 and len(items) > 1 and FORK is not None:
            try:
                with FORK.Pool(min(n_jobs, len(items))) as pool:
                    return list(wrap(pool.imap(func, items)))
            except OSError:  # no processes allowed here (sandbox, limits): same work in-process
                pass
        return [func(item) for item in wrap(items)]
    finally:
        _SHARED = None


def fork_call(func: Callable[[], Any], shared: Any = None, enabled: bool = True) -> Callable[[], Any]:
    """Start ``func()`` in one forked worker and return a function that waits for its result, so
    the parent can do other work meanwhile (e.g. generate candidates while the comparisons'
    arrays are prepared). ``func`` reads ``shared`` with :func:`shared`; its result is pickled.
    Without fork, or with ``enabled`` False, ``func`` runs now, in-process.

    The worker's error is raised by the waiting function (its traceback as a note), and so is a
    Ctrl-C the worker received; a worker that dies without a result raises ``ChildProcessError``.
    If the wait itself is interrupted the worker is killed: the waiting function always reaps it,
    so call it (in a ``finally``) whatever the parent's own work did, or its ``cancel()`` to kill
    and reap the worker when its answer is no longer wanted.

        >>> fork_call(lambda: 41 + 1, enabled=False)()
        42
    """
    global _SHARED
    if enabled and FORK is not None:
        # a bare fork and a pipe rather than a one-worker multiprocessing pool: a pool worker that
        # is interrupted (Ctrl-C reaches the whole process group) dies without an answer and the
        # pool waits for it forever; here the pipe's end says so
        read_end, write_end = os.pipe()
        _SHARED = shared
        try:
            pid = os.fork()
        except OSError:  # no processes allowed here: run it now
            pid = None
            os.close(read_end)
            os.close(write_end)
        finally:
            if pid != 0:
                _SHARED = None  # the worker has its copy; the parent's stays clean
        if pid == 0:
            os.close(read_end)
            _serve(func, write_end)  # never returns
        if pid is not None:
            os.close(write_end)
            return _Waiting(pid, read_end)
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

    def __call__(self) -> Any:
        return self.value

    def cancel(self) -> None:
        """Nothing to stop (see :meth:`_Waiting.cancel`)."""


def _serve(func: Callable[[], Any], write_end: int) -> None:
    """In the forked worker: run ``func``, send ``(ok, value, traceback text)`` up the pipe, exit
    at once (no interpreter teardown, no flushing of buffers copied from the parent)."""
    import pickle
    import traceback

    code = 0
    try:
        try:
            answer = (True, func(), "")
        except BaseException as error:  # noqa: B036 - a Ctrl-C too: the parent raises it
            answer = (False, error, traceback.format_exc())
        try:
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # an unpicklable result or error: its text goes instead
            payload = pickle.dumps((False, RuntimeError(f"{answer[1]!r} (could not be sent back: {error})"),
                                    answer[2]), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
    except BaseException:  # noqa: B036 - the parent reads a closed pipe and says so
        code = 1
    finally:
        os._exit(code)


class _Waiting:
    """The parent's side of :func:`fork_call`: called, it reads the worker's answer and reaps it."""

    def __init__(self, pid: int, read_end: int):
        self.pid, self.read_end = pid, read_end
        self.answer: tuple | None = None

    def __call__(self) -> Any:
        if self.answer is None:
            self.answer = self._wait()
        ok, value, text = self.answer
        if ok:
            return value
        if text and hasattr(value, "add_note") and text not in getattr(value, "__notes__", ()):
            value.add_note(f"in the worker process:\n{text}")
        raise value

    def cancel(self) -> None:
        """Kill the worker and reap it, when its answer is no longer wanted (the parent failed)."""
        import signal

        if self.answer is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(self.read_end)
        os.waitpid(self.pid, 0)
        self.answer = (False, RuntimeError(f"the worker process {self.pid} was stopped"), "")

    def _wait(self) -> tuple:
        import pickle
        import signal

        try:
            with os.fdopen(self.read_end, "rb") as pipe:
                payload = pipe.read()
        except BaseException:  # noqa: B036 - interrupted while waiting: the worker goes too
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            raise
        _pid, status = os.waitpid(self.pid, 0)
        if not payload:
            raise ChildProcessError(f"the worker process {self.pid} ended without an answer (exit status "
                                    f"{os.waitstatus_to_exitcode(status)}; killed, or out of memory?)")
        return pickle.loads(payload)


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

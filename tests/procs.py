"""Child processes of the test process, for tests that check no worker is left behind."""

from __future__ import annotations

import os


def children() -> set[str]:
    """This process's child processes (zombies too: a worker not reaped), from /proc; read-only, so
    no other test's child is reaped here."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                found.add(entry)
    return found


def reaped(waiting) -> bool:
    """Whether the worker of ``waiting`` (a :func:`kinmatch._parallel.fork_call` result) has been
    reaped already: True when it is no longer this process's child."""
    try:
        os.waitpid(waiting.pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False

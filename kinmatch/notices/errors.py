"""Errors of the notices package, in a module of their own so that the rendering and the poster
can both raise them without importing each other."""

from __future__ import annotations

from kinmatch.errors import KinmatchError


class NoticeSkipped(KinmatchError):
    """A notice was not rendered for a reason a station can fix (``reason`` is a code)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason

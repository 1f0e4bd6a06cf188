"""Errors that teach: each says what happened, why it matters and how to fix it."""


class KinmatchError(Exception):
    """Base class of every error kinmatch raises on purpose. The CLI prints its message only."""


class InputError(KinmatchError, ValueError):
    """An input file or frame cannot be used as a whole (e.g. no id column, unreadable file)."""

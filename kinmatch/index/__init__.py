"""The standing index: normalize reports (and residents) once, link new records against them daily.

:class:`~kinmatch.index.core.Index` is the front door (``kinmatch.Index``); the on-disk layout
(Parquet segments, numbered manifests, an atomically replaced ``CURRENT`` pointer, a writer lock)
is :mod:`kinmatch.index.storage`, the Parquet encoding of normalized frames
:mod:`kinmatch.index.frames`. docs/index.md describes both for users.
"""

from kinmatch.index.core import Index
from kinmatch.index.storage import FORMAT_VERSION, IndexBusyError, IndexFormatError, reference_data_version

__all__ = ["Index", "FORMAT_VERSION", "IndexBusyError", "IndexFormatError", "reference_data_version"]

"""kinmatch: link unidentified residents of rescue stations to missing-person reports.

The pipeline, one way::

    read_residents / read_missing        intake: canonical frames + issues table
      -> normalize_residents / normalize_missing   comparable fields (kinmatch.normalize)
      -> link                                      candidates -> comparisons -> model -> ranking
         (link_run: the same run, with the model, comparison levels, pass counts and charts in hand)
         Index                                     the standing index: normalize once, link daily
      -> review / notices                          studio review, public notices

Names are imported lazily so ``import kinmatch`` stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "read_residents": "kinmatch.intake",
    "read_missing": "kinmatch.intake",
    "normalize_residents": "kinmatch.normalize.records",
    "normalize_missing": "kinmatch.normalize.records",
    "link": "kinmatch.match.pipeline",
    "link_run": "kinmatch.match.result",
    "charts": "kinmatch.charts",
    "LinkSettings": "kinmatch.match.settings",
    "FellegiSunter": "kinmatch.match.model",
    "Index": "kinmatch.index",
    "datasets": "kinmatch.datasets",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


_SUBPACKAGES = ("match",)
"""Reachable as attributes (``kinmatch.match.display.show_candidates``) without being in ``__all__``."""


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'kinmatch' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith(name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return __all__

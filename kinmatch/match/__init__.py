"""Matching: candidates -> comparisons -> probabilistic model -> ranking and explanations.

Submodules load on first use, so ``kinmatch.match.display.show_candidates`` works after a plain
``import kinmatch`` without importing the submodule by hand.
"""

import importlib

# (issue 16) the submodules a notebook reaches as attributes: loaded on first access, not at import
_SUBMODULES = ("candidates", "comparisons", "display", "engine", "evaluate", "explain", "model", "passes",
               "pipeline", "rank", "result", "settings")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

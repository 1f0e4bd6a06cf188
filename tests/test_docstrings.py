"""Every example in kinmatch's docstrings runs and shows what it says (users copy them)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import kinmatch

MODULES = sorted(info.name for info in pkgutil.walk_packages(kinmatch.__path__, "kinmatch.")
                 if not info.name.endswith("__main__"))


def test_the_package_has_modules_to_check():
    assert {"kinmatch.match.rank", "kinmatch.match.comparisons.base", "kinmatch.match.engine",
            "kinmatch.match.pipeline"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples of {name} failed"

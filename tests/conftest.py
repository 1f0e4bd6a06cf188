"""Test-suite settings shared by every test module.

Under CI (``CI`` set, as ``.ci/run`` does) hypothesis runs derandomized: each property test draws
the same examples on every run, so a CI result can be reproduced exactly and a red run is never a
coin toss. Run locally without ``CI`` to explore new examples (failures found are kept in
``.hypothesis/`` and replayed first).
"""

import os

import pytest
from hypothesis import settings
from procs import children

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def no_worker_left():
    """Fails the test when a child process it started is still there (alive or unreaped) at its end."""
    before = children()
    yield
    assert children() - before == set()

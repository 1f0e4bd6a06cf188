"""The compiled candidate kernel (:mod:`kinmatch.match._kernels`) gives the numpy path's answers:
the same pairs, the same pass bits, the same pre-scores bit for bit and the same counts, on
simulated data of several seeds and settings, on a restored (index) report side with read-only
arrays, and where a cap's ties are broken by report position. And numba is imported only when
the kernel runs."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import kinmatch.match.candidates as cand

pytest.importorskip("numba")

from kinmatch.match import _kernels  # noqa: E402  (numba is there)


def _both(monkeypatch, residents, missing, settings, reports=None):
    out = {}
    monkeypatch.setattr(cand, "KERNEL_MIN_PRODUCT", 0)
    for mode, threshold in (("numpy", 10**18), ("kernel", 0)):
        monkeypatch.setattr(cand, "KERNEL_MIN_PAIRS", threshold)
        out[mode] = cand.packed_candidate_pairs(residents, missing, settings, progress=False, reports=reports)
    return out["numpy"], out["kernel"]


def _assert_same(a: cand.PackedCandidates, b: cand.PackedCandidates) -> None:
    assert len(a.residents) > 0
    assert np.array_equal(a.residents, b.residents)
    assert np.array_equal(a.missing_ids[a.reports], b.missing_ids[b.reports])
    assert np.array_equal(a.pass_bits, b.pass_bits)
    assert np.array_equal(a.prescore.view(np.int64), b.prescore.view(np.int64))
    pd.testing.assert_frame_equal(a.counts, b.counts)


@pytest.fixture(scope="module", params=[3, 7, 11])
def records(request):
    from kinmatch.datasets import simulate
    from kinmatch.match.pipeline import prepare_records

    sim = simulate(n_missing=3000, n_residents=150, seed=request.param)
    return prepare_records(sim.residents, "resident"), prepare_records(sim.missing, "missing")


def _settings(name: str) -> cand.CandidateSettings:
    from kinmatch.match.passes import CLOTHING_PASSES, HOME_CONDITION_PASSES, OTHER_SEX_PASSES

    base = cand.CandidateSettings()
    if name == "default":
        return base
    if name == "thin evidence":  # the clothing pass, the other-sex passes with a floor under their score
        regular = [p for p in base.passes if not p.fallback and not p.other_sex]
        return replace(base, passes=(*regular, *[replace(p, cap=3, min_score=-30.0) for p in OTHER_SEX_PASSES],
                                     *[replace(p, cap=2) for p in CLOTHING_PASSES],
                                     *[p for p in base.passes if p.fallback]))
    if name == "small caps":  # most residents over their caps, so most pairs are scored and capped
        settings = replace(base, max_per_resident=20, few_candidates=40, chunk_size=60,
                           prescore_weights=dict(cand.FITTED_PRESCORE_WEIGHTS))
        for candidate_pass in settings.passes:
            settings = settings.with_pass(candidate_pass.name, cap=max(2, candidate_pass.cap // 20))
        return settings
    # the other-sex passes capped apart, the home-by-condition passes, caps by name evidence, no
    # agreement bonus and distances counted in full
    regular = [replace(p, named_factor=0.5, distance="full") if p.nameless_factor > 1 else p
               for p in base.passes if not p.fallback and not p.other_sex]
    return replace(base, passes=(*regular, *HOME_CONDITION_PASSES, *[replace(p, cap=3) for p in OTHER_SEX_PASSES],
                                 *[p for p in base.passes if p.fallback]), max_per_resident=60, name_bonus=0.0)


@pytest.mark.parametrize("settings_name", ["default", "small caps", "options", "thin evidence"])
def test_kernel_gives_the_numpy_answers(monkeypatch, records, settings_name):
    residents, missing = records
    numpy_path, kernel_path = _both(monkeypatch, residents, missing, _settings(settings_name))
    _assert_same(numpy_path, kernel_path)


def test_kernel_on_a_restored_side_with_read_only_arrays(monkeypatch, records):
    """As the standing index gives it: the report side restored from its state, arrays mapped
    read-only."""
    residents, missing = records
    settings = _settings("small caps")
    state = cand.report_side_state(cand.report_side(missing, settings))
    for values in state["indexes"].values():
        for array in values.values():
            if isinstance(array, np.ndarray):
                array.flags.writeable = False
    reports = cand.report_side_from_state(state)
    numpy_path, kernel_path = _both(monkeypatch, residents, None, settings, reports=reports)
    _assert_same(numpy_path, kernel_path)


def test_ties_in_a_cap_go_to_the_first_reports(monkeypatch):
    """Forty reports alike in every field: a cap of 3 keeps the first three (report position
    breaks the tie), and the kernel keeps the same."""
    residents = pd.DataFrame({"resident_id": ["R1", "R2"], "sex_code": ["F", "M"],
                              "name_keys": [("li wei",), ("wang fang",)], "name_evidence": [True, True],
                              "birth_year_low": [1960.0, 1980.0], "birth_year_high": [1964.0, 1984.0]})
    n = 40
    missing = pd.DataFrame({"missing_id": [f"M{i:02d}" for i in range(2 * n)], "sex_code": ["F"] * n + ["M"] * n,
                            "name_keys": [("li wei",)] * n + [("wang fang",)] * n,
                            "birth_year_low": [1961.0] * n + [1981.0] * n,
                            "birth_year_high": [1963.0] * n + [1983.0] * n})
    settings = cand.CandidateSettings().with_pass("name_sound", cap=3)
    numpy_path, kernel_path = _both(monkeypatch, residents, missing, settings)
    _assert_same(numpy_path, kernel_path)
    kept = numpy_path.unpack().pairs
    assert kept.loc[kept["resident_id"] == "R1", "missing_id"].tolist() == ["M00", "M01", "M02"]
    assert kept.loc[kept["resident_id"] == "R2", "missing_id"].tolist() == ["M40", "M41", "M42"]


def test_without_a_writable_cache_the_kernel_compiles_uncached(monkeypatch):
    """numba raises at decoration when it finds no directory to cache in; the kernel is then
    compiled without a cache (and still runs)."""
    import numba

    real = numba.njit

    def njit(*args, **options):
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return real(*args, **options)

    monkeypatch.setattr(numba, "njit", njit)

    @_kernels.njit
    def twice(x):
        return 2 * x

    from numba.core.caching import NullCache

    assert twice(21) == 42
    assert isinstance(twice._cache, NullCache)


def test_a_small_link_does_not_import_numba():
    code = ("import sys, pandas as pd\n"
            "import kinmatch\n"
            "from kinmatch.match.candidates import candidate_pairs\n"
            "residents = pd.DataFrame({'resident_id': ['R1'], 'sex_code': ['F'], 'name_keys': [('li wei',)]})\n"
            "missing = pd.DataFrame({'missing_id': ['M1'], 'sex_code': ['F'], 'name_keys': [('li wei',)]})\n"
            "assert len(candidate_pairs(residents, missing, progress=False).pairs) == 1\n"
            "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_chunks_over_forked_workers_give_the_same_pairs(monkeypatch, records):
    """:func:`packed_candidate_pairs` with its chunks over worker processes (as from
    ``POOL_MIN_PRODUCT`` residents × reports) gives what one process gives, counts included."""
    residents, missing = records
    settings = replace(_settings("small caps"), chunk_size=40)
    monkeypatch.setattr(cand, "KERNEL_MIN_PAIRS", 0)
    monkeypatch.setattr(cand, "KERNEL_MIN_PRODUCT", 0)
    one = cand.packed_candidate_pairs(residents, missing, settings, progress=False)
    monkeypatch.setattr(cand, "POOL_MIN_PRODUCT", 0)
    if cand._chunk_jobs(4, len(residents), len(missing)) < 2:
        pytest.skip("one CPU, or a thread running: the chunks stay in-process")
    _assert_same(one, cand.packed_candidate_pairs(residents, missing, settings, progress=False))

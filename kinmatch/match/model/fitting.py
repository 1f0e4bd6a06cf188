"""The model the linking pipeline fits: which comparisons, levels, labels and term-frequency
settings go into the :class:`~kinmatch.match.model.FellegiSunter`, and the random pairs its u
comes from.

:func:`fit_model` is what ``kinmatch.link`` runs when no model is given: the one-to-many
assignment EM (``method="assignment"``) on the candidate pairs, u from random pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kinmatch.errors import InputError
from kinmatch.match.model.fellegi_sunter import FellegiSunter

__all__ = ["fit_model", "random_pairs", "adjusted_vectors", "MIN_PROB"]

MIN_PROB = 1e-4
"""m, u and λ of the pipeline's model stay inside [MIN_PROB, 1 - MIN_PROB]: no level weighs more
than about ±13 bits, however few pairs showed it."""


def random_pairs(residents: pd.DataFrame, missing: pd.DataFrame, n: int = 30_000,
                 random_state: int | None = 0) -> pd.DataFrame:
    """``n`` resident × report pairs drawn uniformly: almost all non-matches, so their comparison
    levels estimate the model's u.

        >>> residents = pd.DataFrame({"resident_id": ["R1", "R2"]})
        >>> missing = pd.DataFrame({"missing_id": ["M1", "M2", "M3"]})
        >>> random_pairs(residents, missing, n=4).shape
        (4, 2)
    """
    rng = np.random.default_rng(random_state)
    n = int(min(n, len(residents) * len(missing)))
    return pd.DataFrame({"resident_id": residents["resident_id"].to_numpy()[rng.integers(len(residents), size=n)],
                         "missing_id": missing["missing_id"].to_numpy()[rng.integers(len(missing), size=n)]})


MAX_EM_ITERATIONS = 200
"""The EM's iteration limit: far above what a fit needs to converge (``n_iter_`` and ``converged_``
of the fitted model say what happened; at 10,000 x 1,000,000 with the default candidates it
converges in about 65 iterations, a few hundred milliseconds each)."""


def fit_model(vectors: pd.DataFrame, u_vectors: pd.DataFrame, n_residents: int, settings: Any = None,
              n_reports: int | None = None) -> FellegiSunter:
    """A :class:`~kinmatch.match.model.FellegiSunter` for these candidates, fitted by the
    one-to-many assignment EM (``method="assignment"``) on the comparisons of ``settings`` (a
    :class:`~kinmatch.match.settings.LinkSettings`; None: the defaults), which the model carries.

    m and π always come from :func:`~kinmatch.match.model.assignment.fit_assignment_em` with u
    re-estimated among the candidates (so the passes' selection cannot inflate the match class).
    What the pairs are then *scored* against is the settings' ``u_source``:

    * ``"hybrid"`` (default): u from random pairs, and the prior of a pair is π / ``n_reports``
      (the chance that any one report is the resident's). Evidence the passes selected on (age
      window, accent province, marks) keeps its full weight, so an impossible age counts against
      a pair even among candidates, and the probability stays calibrated because the prior is
      that of any pair, not of a pre-selected candidate (bench/RESULTS.md compares the three).
    * ``"candidates"``: u of the candidate non-matches and the prior π / (mean candidates per
      resident): weights say how a pair stands out among its fellow candidates.
    * ``"random"``: random-pair u with the candidate prior (probabilities come out too high).

    Comparisons with no evidence at all in either set (e.g. no record describes marks) are left
    out of the fit; their weights are 0. The weights of ordered comparisons never decrease with
    the level. The settings' ``model_options`` (``dependence``, ``prior``, ``posterior``) are
    passed to the model as they are; without them it has its defaults. The EM runs from two
    starts and keeps the second only where it reaches a clearly narrower match class
    (``em_restart``: at a million reports the usual start can stop at a wide fixed point). The model records
    ``n_iter_`` and ``converged_`` of the EM kept, its start (``em_start_``), and π as
    ``share_with_report_``."""
    from kinmatch.match.settings import resolve_settings

    settings = resolve_settings(settings)
    usable = [c for c in settings.comparisons
              if c.name in vectors.columns and (vectors[c.name] >= 0).any() and (u_vectors[c.name] >= 0).any()]
    if not usable:
        raise InputError("no comparison has evidence on both the candidate and the random pairs, so no "
                         "model can be fitted; check that the inputs carry names, ages or places")
    names = {c.name for c in usable}
    term_frequencies = [tf for tf in settings.term_frequencies
                        if tf.comparison in names and tf.column in vectors.columns]
    model = FellegiSunter(levels={c.name: c.n_levels for c in usable}, method="assignment",
                          u_source=settings.u_source, ordered=[c.name for c in usable if c.ordered],
                          max_iter=MAX_EM_ITERATIONS, tol=2e-4, min_prob=MIN_PROB, random_state=settings.random_state,
                          em_restart=True,
                          tf_columns={tf.comparison: tf.column for tf in term_frequencies} or None,
                          tf_levels={tf.comparison: list(tf.levels) for tf in term_frequencies} or None,
                          level_labels={c.name: [c.labels[level] for level in range(c.n_levels)] for c in usable},
                          settings=settings.to_dict(), **dict(settings.model_options or {}))
    return model.fit(vectors, u_vectors, n_residents=n_residents, n_reports=n_reports)


def adjusted_vectors(vectors: pd.DataFrame, model: Any, settings: Any = None) -> pd.DataFrame:
    """``vectors`` with each term-frequency column raised to the model's own u at the settings'
    ``floor_levels`` (see :class:`~kinmatch.match.settings.TermFrequency`), so there term
    frequency can only lower a weight. Done here, not in the model, because the model's tf
    adjustment has no floor and the floor is the fitted u.

        >>> from types import SimpleNamespace
        >>> model = SimpleNamespace(u_={"name": np.array([0.9, 0.02, 0.08])})
        >>> vectors = pd.DataFrame({"name": [1, 1, 2], "tf_name": [0.001, 0.05, 0.001]})
        >>> adjusted_vectors(vectors, model)["tf_name"].tolist()
        [0.02, 0.05, 0.001]
    """
    from kinmatch.match.settings import resolve_settings

    fitted_u = getattr(model, "u_", None)
    if not isinstance(fitted_u, dict):
        return vectors
    for tf in resolve_settings(settings).term_frequencies:
        u = fitted_u.get(tf.comparison)
        if u is None or tf.column not in vectors.columns or tf.comparison not in vectors.columns:
            continue
        level = vectors[tf.comparison].to_numpy()
        values = pd.to_numeric(vectors[tf.column], errors="coerce").to_numpy(dtype=float)
        floored = values.copy()
        for k in tf.floor_levels:
            if k < len(u):
                at = (level == k) & np.isfinite(values)
                floored[at] = np.maximum(values[at], float(u[k]))
        vectors = vectors.assign(**{tf.column: floored})
    return vectors

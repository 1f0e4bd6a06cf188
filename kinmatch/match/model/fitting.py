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
from kinmatch.match import comparisons as cmp
from kinmatch.match.model.fellegi_sunter import U_SOURCES, FellegiSunter

__all__ = ["fit_model", "random_pairs", "floor_name_tf", "level_labels", "ORDINAL_COMPARISONS",
           "NAME_TF_LEVELS", "NAME_TF_FLOOR_LEVELS", "MIN_PROB"]

NAME_TF_LEVELS = [1, 4, 5, 6]
"""Name levels whose weight is term-frequency adjusted: 4–6 agree on a sound key (a shared rare
name sound is stronger evidence than a shared 王伟); 1 is a shared 小名/partial name, adjusted only
downwards (see :data:`NAME_TF_FLOOR_LEVELS`)."""

NAME_TF_FLOOR_LEVELS = [1]
"""Name levels whose tf-adjusted u is never below the level's own u: a common 小名 (小明, 阿华) may
weigh less than the level, a rare one no more, because a partial name is too weak a clue to
become a strong lead just by being rare."""

ORDINAL_COMPARISONS = frozenset(cmp.COMPARISONS) - {"name"}
"""Comparisons whose levels are strictly ordered, so a weaker agreement must never weigh more than
a stronger one. The name levels are kinds of agreement (a 小名 match, one character off) rather
than degrees, so they keep what EM found."""

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


def level_labels(names: list[str]) -> dict[str, list[str]]:
    """The Chinese labels of every level of each comparison, level 0 first.

        >>> level_labels(["sex"])
        {'sex': ['性别不符', '性别相符']}
    """
    return {name: [cmp.LEVEL_LABELS[name][level] for level in range(cmp.N_LEVELS[name])] for name in names}


def fit_model(vectors: pd.DataFrame, u_vectors: pd.DataFrame, n_residents: int,
              random_state: int | None = 0, u_source: str = "hybrid", n_reports: int | None = None,
              settings: dict | None = None) -> FellegiSunter:
    """A :class:`~kinmatch.match.model.FellegiSunter` for these candidates, fitted by the
    one-to-many assignment EM (``method="assignment"``).

    m and π always come from :func:`~kinmatch.match.model.assignment.fit_assignment_em` with u
    re-estimated among the candidates (so the passes' selection cannot inflate the match class).
    What the pairs are then *scored* against is ``u_source``:

    * ``"hybrid"`` (default): u from random pairs, and the prior of a pair is π / ``n_reports``
      (the chance that any one report is the resident's). Evidence the passes selected on (age
      window, accent province, marks) keeps its full weight, so an impossible age counts against
      a pair even among candidates, and the probability stays calibrated because the prior is
      that of any pair, not of a pre-selected candidate. On the simulator (2,000 × 20,000, seeds 7
      and 3) this ranks better than ``"candidates"``: recall@10 0.875/0.871 against 0.865/0.858,
      nameless residents +2–5 points, with false leads 3.6–4% against 2.4–3% of residents
      without a report.
    * ``"candidates"``: u of the candidate non-matches and the prior π / (mean candidates per
      resident): weights say how a pair stands out among its fellow candidates.
    * ``"random"``: random-pair u with the candidate prior (probabilities come out too high).

    Comparisons with no evidence at all in either set (e.g. no record describes marks) are left
    out of the model; their weights are 0. The weights of :data:`ORDINAL_COMPARISONS` never
    decrease with the level. ``settings`` (JSON-able) are stored in the model as given.
    The model records ``n_iter_`` and ``converged_`` of the EM, and π as ``share_with_report_``."""
    usable = [name for name in cmp.COMPARISONS
              if name in vectors.columns and (vectors[name] >= 0).any() and (u_vectors[name] >= 0).any()]
    if not usable:
        raise InputError("no comparison has evidence on both the candidate and the random pairs, so no "
                         "model can be fitted; check that the inputs carry names, ages or places")
    if u_source not in U_SOURCES:
        raise InputError(f"u_source must be 'candidates', 'random' or 'hybrid', not {u_source!r}")
    tf = {"name": "tf_name"} if "name" in usable and "tf_name" in vectors.columns else None
    model = FellegiSunter(levels={name: cmp.N_LEVELS[name] for name in usable}, method="assignment",
                          u_source=u_source, ordered=[name for name in usable if name in ORDINAL_COMPARISONS],
                          max_iter=60, tol=2e-4, min_prob=MIN_PROB, random_state=random_state,
                          tf_columns=tf, tf_levels={"name": NAME_TF_LEVELS} if tf else None,
                          level_labels=level_labels(usable), settings=settings)
    return model.fit(vectors, u_vectors, n_residents=n_residents, n_reports=n_reports)


def floor_name_tf(vectors: pd.DataFrame, model: Any) -> pd.DataFrame:
    """``vectors`` with ``tf_name`` raised to the model's own u at the name levels of
    :data:`NAME_TF_FLOOR_LEVELS`, so there term frequency can only lower a weight. Done here, not
    in the model, because the model's tf adjustment has no floor and the floor is the fitted u.

        >>> from types import SimpleNamespace
        >>> model = SimpleNamespace(u_={"name": np.array([0.9, 0.02, 0.08])})
        >>> vectors = pd.DataFrame({"name": [1, 1, 2], "tf_name": [0.001, 0.05, 0.001]})
        >>> floor_name_tf(vectors, model)["tf_name"].tolist()
        [0.02, 0.05, 0.001]
    """
    u = getattr(model, "u_", {}).get("name") if isinstance(getattr(model, "u_", None), dict) else None
    if u is None or "tf_name" not in vectors.columns or "name" not in vectors.columns:
        return vectors
    level = vectors["name"].to_numpy()
    tf = pd.to_numeric(vectors["tf_name"], errors="coerce").to_numpy(dtype=float)
    floored = tf.copy()
    for k in NAME_TF_FLOOR_LEVELS:
        if k < len(u):
            at = (level == k) & np.isfinite(tf)
            floored[at] = np.maximum(tf[at], float(u[k]))
    return vectors.assign(tf_name=floored)

"""The probabilistic core: multi-level Fellegi–Sunter fitted by EM, and a supervised alternative.

Both models read the same **comparison vectors**: a DataFrame indexed by ``(resident_id,
missing_id)`` (any index works and is kept), one integer column per comparison whose values are
agreement levels ``0..L-1`` (0 = different, higher = stronger agreement) or ``-1`` for *missing / no
evidence*. A ``-1`` adds exactly zero weight and is skipped by EM for that comparison.

Both give the same scoring interface, so the ranking stage and the studio can swap them:

- ``match_weight(vectors)``: log2 Bayes factor / log2 odds (a float Series),
- ``predict_proba(vectors)``: match probability ``2**w / (1 + 2**w)``,
- ``weight_table(vectors)``: one column per comparison, the per-pair partial weight,
- ``predict(vectors, threshold=0.5)``: a boolean Series.

The modules:

- :mod:`~kinmatch.match.model.fellegi_sunter`: the model (fitting by EM or by the one-to-many
  assignment EM, scoring, weight tables, term-frequency adjustment, compatibility check);
- :mod:`~kinmatch.match.model.assignment`: the assignment EM and the monotone adjustment of m;
- :mod:`~kinmatch.match.model.fitting`: the model the linking pipeline fits (:func:`fit_model`);
- :mod:`~kinmatch.match.model.supervised`: :class:`SupervisedLinker`, trained on reviewed pairs;
- :mod:`~kinmatch.match.model.io`: the model's JSON, written and read in one place each;
- :mod:`~kinmatch.match.model.dependence`: the correction for comparisons that are not
  independent, and the expected number of true pairs among the candidates (model options);
- :mod:`~kinmatch.match.model.posterior`: a pair's probability given all of its resident's
  candidates, the resident being one person with zero to three reports (model option);
- :mod:`~kinmatch.match.model.calibration`: probabilities recalibrated from the studio's decided
  pairs (:meth:`FellegiSunter.calibrate`);
- :mod:`~kinmatch.match.model.metrics`: :func:`evaluate_scores`, the same numbers for any model,
  and :func:`~kinmatch.match.model.metrics.calibration_table` (predicted against observed by band);
- :mod:`~kinmatch.match.model.base`: what they share (level matrix, errors, parameter API).

The supervised model imports scikit-learn when it is fitted; linking never imports it.
"""

from kinmatch.match.model.base import MISSING, ModelMismatchError, ModelNotFittedError
from kinmatch.match.model.fellegi_sunter import FellegiSunter
from kinmatch.match.model.io import JSON_FORMAT, JSON_VERSION
from kinmatch.match.model.metrics import evaluate_scores
from kinmatch.match.model.supervised import SupervisedLinker

__all__ = [
    "FellegiSunter",
    "SupervisedLinker",
    "ModelNotFittedError",
    "ModelMismatchError",
    "evaluate_scores",
    "MISSING",
    "JSON_FORMAT",
    "JSON_VERSION",
]

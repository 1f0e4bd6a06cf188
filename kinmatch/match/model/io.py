"""The model's JSON: :func:`write_model` is the one function that writes it, :func:`read_model`
the one that reads it.

The file is a readable table an auditor can diff, never a pickle::

    {"format": "kinmatch.FellegiSunter", "version": 1,
     "lambda": ..., "prior_weight": ...,
     "comparisons": {"name": {"n_levels": 7, "missing_label": ..., "tf_column": ..., "tf_levels": [...],
                              "levels": [{"level": 0, "label": "姓名不同", "m": ..., "u": ..., "weight": ...}, ...]},
                     ...},
     "fitted_on": {"method": "assignment", "n_iter": 23, "converged": true, "n_pairs": ..., "u_source": ..., ...},
     "params": {"method": ..., "max_iter": ..., "tol": ..., "min_prob": ..., ...},
     "settings": {...} or null,
     "supervised": {...},          (only for weights learnt from reviewers' decisions)
     "dependence": [{"comparisons": ["age", "conditions"], "log2_lift": [[...], ...]}, ...]}
                                   (only for a model that corrects for dependent comparisons)
     "calibration": {"method": "isotonic", "weight": [...], "probability": [...], "n_pairs": ...},
                                   (only for a model recalibrated from the studio's decisions)
     "posterior": {"kind": "person", "report_shares": [t0, t1, t2, t3], "n_reports": ...}}
                                   (only for a model whose probability is the person posterior)

``fitted_on`` says how the parameters were obtained: ``method`` (``"em"``, ``"assignment"``,
``"supervised"``), and ``n_iter`` / ``converged`` of the fit that actually ran (null when no
iterative fit produced the model). Files written before ``settings``, ``method`` and ``ordered``
existed read as models without settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kinmatch._io import atomic_write
from kinmatch.errors import InputError
from kinmatch.match.model.base import MISSING, ModelNotFittedError

__all__ = ["JSON_FORMAT", "JSON_VERSION", "FITTED_ON", "ModelRecord", "model_to_dict", "write_model", "read_model"]

JSON_FORMAT = "kinmatch.FellegiSunter"
JSON_VERSION = 1

FITTED_ON = {
    "method": "fit_method_",
    "n_pairs": "n_pairs_",
    "n_patterns": "n_patterns_",
    "n_random_pairs": "n_random_pairs_",
    "u_source": "u_source_",
    "n_iter": "n_iter_",
    "converged": "converged_",
    "share_with_report": "share_with_report_",
    "expected_true_pairs": "expected_true_pairs_",
}
"""The keys of ``"fitted_on"`` and the model attributes they hold."""

PARAMS = ("method", "max_iter", "tol", "u_fixed", "min_prob", "lambda_init", "u_source", "ordered", "dependence",
          "prior")
"""The constructor parameters written under ``"params"`` (the rest are per comparison, or
``settings``)."""


class ModelRecord(NamedTuple):
    """What :func:`read_model` found: constructor ``params`` (including ``levels``,
    ``level_labels``, ``tf_columns``, ``tf_levels``, ``m_fixed`` and ``settings``), ``m`` and ``u``
    per comparison, ``lambda_``, ``fitted_on`` and ``supervised`` (or None); the arguments of
    :meth:`~kinmatch.match.model.FellegiSunter.from_parameters`."""

    params: dict
    m: dict
    u: dict
    lambda_: float
    fitted_on: dict
    supervised: dict | None
    dependence_tables: dict | None = None
    calibration: dict | None = None


def model_to_dict(model: Any) -> dict[str, Any]:
    """A fitted :class:`~kinmatch.match.model.FellegiSunter` as the JSON's data (see the module
    docstring)."""
    if not hasattr(model, "m_"):
        raise ModelNotFittedError("this model is not fitted yet, so there is nothing to save; fit it first.")
    tf_columns = model.tf_columns or {}
    comparisons = {}
    for name in model.comparisons_:
        entry = {
            "n_levels": model.levels_[name],
            "missing_label": model.level_label(name, MISSING),
            "levels": [{"level": k, "label": model.level_label(name, k), "m": float(model.m_[name][k]),
                        "u": float(model.u_[name][k]), "weight": float(model.weights_[name][k])}
                       for k in range(model.levels_[name])],
        }
        if name in tf_columns:
            entry["tf_column"] = tf_columns[name]
            entry["tf_levels"] = model.tf_levels_[name]
        if name in (model.m_fixed or {}):
            entry["m_fixed"] = {str(k): float(v) for k, v in model.m_fixed[name].items()}
        comparisons[name] = entry
    params = {key: getattr(model, key) for key in PARAMS}
    if params["ordered"] is not None:
        params["ordered"] = list(params["ordered"])
    data = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "lambda": float(model.lambda_),
        "prior_weight": float(model.prior_weight_),
        "comparisons": comparisons,
        "fitted_on": {key: getattr(model, attribute, None) for key, attribute in FITTED_ON.items()},
        "params": params,
        "settings": model.settings,
    }
    if getattr(model, "supervised_", None) is not None:
        data["supervised"] = model.supervised_
    if getattr(model, "dependence_", None):
        # the correction for dependence: per pair of comparisons, log2 lift per pair of levels
        data["dependence"] = [{"comparisons": [a, b], "log2_lift": np.asarray(table, dtype=float).tolist()}
                              for (a, b), table in model.dependence_.items()]
    if getattr(model, "calibration_", None) is not None:
        data["calibration"] = model.calibration_.to_dict()
    if getattr(model, "posterior", "pair") != "pair":
        # only for a model whose probabilities are the person posterior (a pair model's JSON, and so
        # its model_version, stays as it was)
        data["posterior"] = {"kind": model.posterior, "report_shares": getattr(model, "report_shares_", None),
                             "n_reports": getattr(model, "n_reports_", None)}
    return data


def _plain(value: Any) -> Any:
    # numpy scalars and arrays (e.g. metrics or counts in settings) as the JSON numbers and lists they are
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def write_model(model: Any, path: str | os.PathLike | None = None) -> str:
    """The model's JSON text (indented, Chinese labels as characters, floats in full precision so
    reading it back scores identically), written atomically to ``path`` when given."""
    data = model_to_dict(model)
    try:
        text = json.dumps(data, ensure_ascii=False, indent=2, default=_plain)
    except (TypeError, ValueError) as error:
        raise InputError(f"the model cannot be written as JSON ({error}); its settings must be plain data "
                         f"(dicts, lists, strings, numbers, true/false/null)") from error
    if path is not None:
        with atomic_write(path) as handle:
            handle.write(text + "\n")
    return text


def read_model(path_or_text: str | os.PathLike) -> ModelRecord:
    """Parse and check a model's JSON (a path, or the JSON text itself)."""
    text = str(path_or_text)
    if not text.lstrip().startswith("{"):
        path = Path(path_or_text)
        if not path.exists():
            raise InputError(f"model file {path} does not exist; pass the path written by "
                             f"FellegiSunter.to_json or the JSON text.")
        text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the model JSON cannot be parsed ({exc}); it must be the text "
                         f"written by FellegiSunter.to_json.") from exc
    if data.get("format") != JSON_FORMAT or data.get("version") != JSON_VERSION:
        raise InputError(
            f"this JSON is not a kinmatch Fellegi–Sunter model of version {JSON_VERSION} "
            f"(format={data.get('format')!r}, version={data.get('version')!r}); refit and "
            f"save it with this version of kinmatch."
        )
    comps = data["comparisons"]
    saved = data.get("params", {})
    params = {key: saved[key] for key in PARAMS if key in saved}
    posterior = data.get("posterior")
    if posterior:
        params["posterior"] = posterior["kind"]
    params.update(
        levels={n: int(c["n_levels"]) for n, c in comps.items()},
        tf_columns={n: c["tf_column"] for n, c in comps.items() if "tf_column" in c} or None,
        tf_levels={n: c["tf_levels"] for n, c in comps.items() if "tf_levels" in c} or None,
        m_fixed={n: {int(k): v for k, v in c["m_fixed"].items()} for n, c in comps.items() if "m_fixed" in c} or None,
        level_labels={n: {**({MISSING: c["missing_label"]} if c.get("missing_label") is not None else {}),
                          **{lv["level"]: lv["label"] for lv in c["levels"] if lv.get("label") is not None}}
                      for n, c in comps.items()
                      if c.get("missing_label") is not None
                      or any(lv.get("label") is not None for lv in c["levels"])} or None,
        settings=data.get("settings"),
    )
    return ModelRecord(
        params=params,
        m={n: [lv["m"] for lv in c["levels"]] for n, c in comps.items()},
        u={n: [lv["u"] for lv in c["levels"]] for n, c in comps.items()},
        lambda_=float(data["lambda"]),
        fitted_on={**data.get("fitted_on", {}),
                   **({"report_shares": posterior.get("report_shares"), "n_reports": posterior.get("n_reports")}
                      if posterior else {})},
        supervised=data.get("supervised"),
        dependence_tables={(entry["comparisons"][0], entry["comparisons"][1]): entry["log2_lift"]
                    for entry in data.get("dependence", [])} or None,
        calibration=data.get("calibration"),
    )

"""The studio review workflow: a case store, a review queue, a web page and training from decisions.

- :class:`Store` (``kinmatch.review.store``): residents, reports, candidate pairs, append-only
  decisions, users and the access log, in SQLite or PostgreSQL, migrated by Alembic;
- ``Store.queue()``: undecided pairs, highest probability (or most informative) first;
- :func:`create_app` (``kinmatch.review.web``): the Flask review site (``kinmatch review serve``);
- :func:`export_decisions`, :func:`export_leads` (``kinmatch.review.export``): reviewed matches
  and the frame the match-lead letter (``kinmatch.notices.render_letter``) is rendered from;
- :func:`train_from_store` (``kinmatch.review.train``): a supervised model from decisions.

    >>> from kinmatch.review import Store
    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp() + "/cases.db")
    >>> store.queue().empty
    True
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "Store": "kinmatch.review.store",
    "store_url": "kinmatch.review.store",
    "DECISION_LABELS": "kinmatch.review.store",
    "EXCLUSION_REASONS": "kinmatch.review.store",
    "create_app": "kinmatch.review.web",
    "export_decisions": "kinmatch.review.export",
    "export_leads": "kinmatch.review.export",
    "render_leads": "kinmatch.review.export",
    "train_from_store": "kinmatch.review.train",
    "load_model": "kinmatch.review.train",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'kinmatch.review' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value

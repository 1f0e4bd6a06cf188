"""The campaign report (救助寻亲专项行动统计报告) from a case store: counts, charts, HTML/PDF/XLSX.

- :func:`campaign_counts` (``kinmatch.report.counts``): residents received, deadlines kept,
  candidates reviewed and confirmed, reunions, long-stay residents and placements in a period,
  in total, by station and by month;
- :func:`report_charts` (``kinmatch.report.charts``): the charts and the offline map, as PNG;
- :func:`write_report` (``kinmatch.report.render``): one file, the format by its suffix.

    >>> from kinmatch.review import Store                                     # doctest: +SKIP
    >>> counts = campaign_counts(Store("studio.sqlite"), "2024-11-01", "2025-02-28")  # doctest: +SKIP
    >>> write_report(counts, "报告.html")                                      # doctest: +SKIP
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "campaign_counts": "kinmatch.report.counts",
    "CampaignCounts": "kinmatch.report.counts",
    "METRICS": "kinmatch.report.counts",
    "report_charts": "kinmatch.report.charts",
    "write_report": "kinmatch.report.render",
    "report_sections": "kinmatch.report.render",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'kinmatch.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value

"""Settings of the simulation: the reference date, the canonical columns, the name modes and the
rates of every distortion. Change them per run with ``simulate(..., rates={...})``.
"""

from __future__ import annotations

import numpy as np

from kinmatch.datasets.drift import DRIFT_RATES

REFERENCE_DATE = np.datetime64("2026-06-30", "D")
"""'Today' of the simulation: no date lies after it (fixed, so output depends only on the seed)."""

RESIDENT_COLUMNS = ["resident_id", "station", "name", "name_source", "alias", "sex", "age", "birth_date",
                    "height", "found_date", "found_place", "accent", "description", "clothing", "health",
                    "statements", "photo", "contact"]
MISSING_COLUMNS = ["missing_id", "name", "alias", "sex", "birth_date", "age", "height", "missing_date",
                   "missing_place", "hometown", "dialect", "description", "clothing", "health", "contact",
                   "source", "photo"]

NAME_MODES = {
    "name_exact": 0.28,
    "homophone": 0.10,
    "dialect_merger": 0.12,
    "name_one_char_off": 0.04,
    "partial_name": 0.10,
    "nickname": 0.05,
    "assigned_name": 0.18,
    "blank_name": 0.13,
}
"""How the name in a resident record relates to the true name (one mode per resident).

The ``dialect_merger`` rate holds among residents whose dialect area merges some sound of their
name (``CharPool.mergeable``; Northern Mandarin outside the Northeast and Jin merges none).
Fallbacks, when a mode cannot apply to a name: ``dialect_merger`` → ``homophone`` → ``name_exact``;
``nickname`` → ``partial_name``
(no 小名 known); for Uyghur names ``homophone``, ``dialect_merger`` and ``name_one_char_off``
become ``minority_variant``."""

DEFAULT_RATES = {
    "no_report": 0.25,          # residents whose person has no report at all
    "traditional": 0.04,        # self-reported names a clerk writes in traditional characters
    "age_far_off": 0.08,        # estimates 12–25 years off (one girl judged 28 was 15)
    "mark_reworded": 0.5,       # of residents with marks
    "mark_omitted": 0.25,       # of residents with marks
    "mark_mirrored": 0.15,      # of residents with a mark that has a side
    "new_mark": 0.10,           # a scar acquired while wandering
    "place_fragment": 0.35,     # statements hold a fragment of the home county or township
                                # (x SILENT_CLUE_FACTOR for residents who gave no name)
    "old_place_name": 0.05,     # statements use an abolished name (where one exists)
    "accent_contradiction": 0.12,
    "same_name_confuser": 0.10,  # residents with a report: other reported people share the name
    "near_station": 0.40,       # resident found at a station of the home province
    "found_where_lost": 0.5,    # lost in a far city (per the report): found at that city's station
    "multiple_reports": (0.6, 0.3, 0.1),  # a person has 1, 2 or 3 reports
    "sex_misrecorded": 0.015,   # the resident's recorded sex is the wrong one
    # of reports giving only an age, the share that write it in the birth-date cell (走失时约75岁);
    # 0 until intake keeps such cells for the normalizer (it blanks them as bad_date today):
    # bench/bench_quality.py sets 0.2
    "age_in_birth_date": 0.0,
    **DRIFT_RATES,              # build and hair drift and omission: see kinmatch.datasets.drift
}
"""Rates of the simulated distortions. A rate is the chance per resident (or per eligible
resident, as commented); the distortions table logs each applied distortion once, only where
it changed the record (a traditional conversion that changes no character is not logged)."""


SILENT_CLUE_FACTOR = 0.3
"""Residents with an assigned or blank name mostly cannot communicate: their chance of a place
fragment (and of any statement, and of a noted accent) is scaled down."""

RATE_BASE = {
    "name_exact": "all residents (plus fallbacks of other modes)",
    "homophone": "all residents (plus dialect_merger fallbacks)",
    "dialect_merger": "residents whose dialect area merges a sound of their name",
    "name_one_char_off": "all residents",
    "partial_name": "all residents (plus nickname fallbacks)",
    "nickname": "residents with a 小名",
    "assigned_name": "all residents",
    "blank_name": "all residents",
    "no_report": "all residents",
    "traditional": "self-reported names; logged only when a character changes",
    "mark_reworded": "residents with marks",
    "mark_omitted": "residents with marks",
    "mark_mirrored": "residents with a mark that has a side",
    "new_mark": "all residents",
    "place_fragment": "residents who gave a name (x SILENT_CLUE_FACTOR for the others)",
    "old_place_name": "residents whose home county absorbed an abolished one",
    "accent_contradiction": "residents who are not deaf-mute",
    "same_name_confuser": "residents with a report",
    "description_drift": "residents whose record states a build or hair (rates in kinmatch.datasets.drift)",
    "sex_misrecorded": "all residents (own random stream)",
    "age_in_birth_date": "reports that give only an age (own random stream); logged on the report's resident",
}
"""Which residents each configured rate applies to (so a family's share of all residents differs)."""


CONFIGURATIONS = {
    "default": {},
    "southwest_silent": {
        # more residents who cannot say who they are, and records that say less
        "name_modes": {"name_exact": 0.18, "homophone": 0.08, "dialect_merger": 0.14, "name_one_char_off": 0.06,
                       "partial_name": 0.12, "nickname": 0.04, "assigned_name": 0.22, "blank_name": 0.16},
        "no_report": 0.35,
        "age_far_off": 0.14,
        "mark_reworded": 0.65,
        "mark_omitted": 0.35,
        "new_mark": 0.20,
        "place_fragment": 0.20,
        "old_place_name": 0.10,
        "accent_contradiction": 0.22,
        "same_name_confuser": 0.15,
        "near_station": 0.25,
        "found_where_lost": 0.3,
        "multiple_reports": (0.45, 0.35, 0.20),
        "sex_misrecorded": 0.03,
        "age_in_birth_date": 0.2,
        # people of the south-west and north-west, and more deaf-mute and intellectually disabled people
        "province_factors": {"50": 3.0, "51": 3.0, "52": 3.0, "53": 3.0, "45": 2.0, "54": 3.0, "62": 2.0,
                             "63": 2.0, "64": 2.0, "65": 1.5, "31": 0.5, "32": 0.5, "33": 0.5, "44": 0.5},
        "category_shares": {"dementia_elderly": 0.28, "intellectual": 0.26, "mental": 0.18, "deaf_mute": 0.14,
                            "minor": 0.09, "other_adult": 0.05},
    },
}
"""Named simulator configurations: overrides of :data:`DEFAULT_RATES` (``simulate(...,
configuration=name)``; explicit ``rates`` override them in turn). Beyond rates, a configuration may
set ``name_modes`` (replacing :data:`NAME_MODES`), ``province_factors`` (``{province prefix:
factor}`` multiplying the population weights of home provinces) and ``category_shares`` (replacing
the shares of ``vocab.CATEGORIES``).

``"default"`` is the simulation every benchmark and test uses. ``"southwest_silent"`` is a second
world for checking a model on data it was not fitted or tuned on: more people from the south-west
and north-west, more deaf-mute and intellectually disabled residents, more assigned and blank
names, fewer place fragments, more wrong accents, more residents found far from home, more
reports per person and more residents without any."""

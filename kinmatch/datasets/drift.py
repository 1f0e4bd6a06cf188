"""How build and hair drift between a missing report and the station's record of the same person.

A report says what the family remembers at the time of loss; the station writes what staff see
at intake, days to twenty years later. The simulator draws the person's build and hair once, at
loss, writes them into every report as they were, and into the resident record after this drift.
All rates are entries of :data:`DRIFT_RATES` (part of ``DEFAULT_RATES``, so
``simulate(..., rates={...})`` overrides them); ``t`` is the years between going missing and
being found:

- ``thinner_base`` 0.15 + ``thinner_per_year`` 0.05·t, capped at ``thinner_cap`` 0.5: one step
  thinner (胖→中等, 中等→瘦). Even weeks of sleeping rough with irregular meals show; years of it
  show on most people, but some are fed by a family or a workplace that takes them in (the cap).
- ``build_judged`` 0.10: one step either way (only one way at the ends of the scale): staff and
  families draw the line between 偏瘦 and 中等 in different places.
- ``greying_per_year`` 0.15: a yearly hazard of dark hair (短发, 长发) turning 花白, ramping
  linearly from 0 at age 35 to the full rate at 65 (age at the middle of the gap): hair greys
  with age, and a long gap at an old age greys most people.
- ``whitening_per_year`` 0.10: the same for 花白 turning 白发 (满头白发), ramping from age 50 to 80.
- ``hair_grown_per_year`` 0.10·t, capped at 0.3: 短发 grown to 长发, nobody cut it while wandering.
- ``haircut`` 0.20: 长发 cut short (stations often cut long matted hair at intake; a barber on
  the road).
- ``hair_judged`` 0.10: re-described as a neighbouring word (短发/长发/光头, 花白/白发/稀疏,
  光头/稀疏): how long is long, how grey is 花白, shaved or balding is an observer's call.
- ``build_omitted_resident`` 0.15, ``hair_omitted_resident`` 0.15: intake forms have a
  description box, but a busy intake skips it; photos stand in for words.
- ``build_omitted_report`` 0.25, ``hair_omitted_report`` 0.25: families and platforms write
  what they think matters (marks, clothes, illness) and often leave out the ordinary.

The drift uses its own random stream (:func:`drift_rng`), so everything else the simulator draws
for a seed is the same as without drift: a benchmark before and after differs by the
descriptions only.

A 70-year-old of average build with short dark hair, found the same week or ten years later
(share of 10,000 such people recorded thinner, and grey or white):

    >>> import numpy as np
    >>> def shares(years):
    ...     build, hair = drift_descriptions(np.random.default_rng(0), DRIFT_RATES, np.full(10_000, 1),
    ...                                      np.full(10_000, SHORT), np.full(10_000, 70.0), np.full(10_000, years))
    ...     return round(float((build < 1).mean()), 1), round(float(np.isin(hair, (GREY, WHITE)).mean()), 1)
    >>> shares(0.0), shares(10.0)
    ((0.2, 0.0), (0.5, 0.8))
"""

from __future__ import annotations

import numpy as np

DRIFT_RATES = {
    "thinner_base": 0.15,
    "thinner_per_year": 0.05,
    "thinner_cap": 0.50,
    "build_judged": 0.10,
    "greying_per_year": 0.15,
    "whitening_per_year": 0.10,
    "hair_grown_per_year": 0.10,
    "haircut": 0.20,
    "hair_judged": 0.10,
    "build_omitted_resident": 0.15,
    "hair_omitted_resident": 0.15,
    "build_omitted_report": 0.25,
    "hair_omitted_report": 0.25,
}
"""Rates of build and hair drift and omission (the module docstring says why each)."""

BUILD_NAMES = ("瘦", "中等", "胖")
"""Build categories, thinnest first: index = the simulator's build code (keys of ``BUILD_WORDS``)."""

HAIR_NAMES = ("短发", "花白", "光头", "长发", "稀疏", "白发")
"""Hair categories: index = the simulator's hair code, the row of ``vocab.HAIR_WORDS``."""

SHORT, GREY, BALD, LONG, THIN, WHITE = range(6)

HAIR_NEIGHBOURS = {
    SHORT: (LONG, BALD),
    GREY: (WHITE, THIN),
    BALD: (THIN, SHORT),
    LONG: (SHORT,),
    THIN: (BALD, GREY),
    WHITE: (GREY,),
}
"""Hair words an observer may use instead of another for the same head."""

_HAIR_GREYING_START, _HAIR_GREYING_FULL = 35.0, 65.0
_HAIR_WHITENING_START, _HAIR_WHITENING_FULL = 50.0, 80.0
_HAIR_GROWN_CAP = 0.3
_DRIFT_STREAM = 0x64726966  # "drif": a fixed spawn key, so the stream depends on the seed alone


def drift_rng(seed) -> np.random.Generator:
    """The random stream of description drift for a simulation seed (independent of the main one).

    >>> float(drift_rng(7).random()) == float(drift_rng(7).random())
    True
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_DRIFT_STREAM,)))


def _ramp(age: np.ndarray, start: float, full: float) -> np.ndarray:
    return np.clip((age - start) / (full - start), 0.0, 1.0)


def drift_descriptions(rng: np.random.Generator, rates: dict, build: np.ndarray, hair: np.ndarray,
                       age_at_loss: np.ndarray, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Build and hair codes as staff record them, from the codes at loss, the age at loss and the
    years until found (all arrays of one length). Vectorized; draws a fixed number of numbers per
    person, so the result for one person does not depend on the others' values.
    """
    n = len(build)
    years = np.clip(np.asarray(years, dtype=float), 0.0, None)
    draws = rng.random((n, 8))

    # build: thinner with the time spent rough, then an observer's one step either way
    b = np.asarray(build, dtype=np.int64).copy()
    p_thin = np.minimum(rates["thinner_base"] + rates["thinner_per_year"] * years, rates["thinner_cap"])
    b = np.where((b > 0) & (draws[:, 0] < p_thin), b - 1, b)
    judged = draws[:, 1] < rates["build_judged"]
    step = np.where(draws[:, 2] < 0.5, -1, 1)
    step = np.where(b == 0, 1, np.where(b == len(BUILD_NAMES) - 1, -1, step))
    b = np.where(judged, b + step, b)

    # hair: dark greys, grey whitens (hazards ramp with the age in the middle of the gap)
    h = np.asarray(hair, dtype=np.int64).copy()
    mid_age = np.asarray(age_at_loss, dtype=float) + years / 2
    p_grey = 1 - np.exp(-rates["greying_per_year"] * _ramp(mid_age, _HAIR_GREYING_START, _HAIR_GREYING_FULL) * years)
    h = np.where(((h == SHORT) | (h == LONG)) & (draws[:, 3] < p_grey), GREY, h)
    p_white = 1 - np.exp(-rates["whitening_per_year"] * _ramp(mid_age, _HAIR_WHITENING_START, _HAIR_WHITENING_FULL)
                         * years)
    h = np.where((h == GREY) & (draws[:, 4] < p_white), WHITE, h)
    # short hair grows out on the road; long hair gets cut
    p_grown = np.minimum(rates["hair_grown_per_year"] * years, _HAIR_GROWN_CAP)
    h = np.where((h == SHORT) & (draws[:, 5] < p_grown), LONG,
                 np.where((h == LONG) & (draws[:, 5] < rates["haircut"]), SHORT, h))
    # an observer's word for the same head
    judged = draws[:, 6] < rates["hair_judged"]
    if judged.any():
        options = [HAIR_NEIGHBOURS[int(code)] for code in h[judged]]
        picks = (draws[judged, 7] * np.array([len(o) for o in options])).astype(np.int64)
        before = h.copy()
        h[judged] = [o[k] for o, k in zip(options, picks)]
        # nobody calls a young person's thin hair 花白: there the observer keeps the word
        young_grey = (np.isin(h, (GREY, WHITE)) & ~np.isin(before, (GREY, WHITE))
                      & (mid_age < _HAIR_GREYING_START))
        h = np.where(young_grey, before, h)
    return b, h


def omissions(rng: np.random.Generator, rates: dict, n: int, who: str) -> tuple[np.ndarray, np.ndarray]:
    """Boolean arrays (build left out, hair left out) for ``n`` records; ``who`` is ``"resident"``
    or ``"report"``."""
    draws = rng.random((n, 2))
    return draws[:, 0] < rates[f"build_omitted_{who}"], draws[:, 1] < rates[f"hair_omitted_{who}"]


def drift_detail(build_at_loss: int, build_seen: int | None, hair_at_loss: int, hair_seen: int | None) -> str:
    """The ``description_drift`` detail: what the record states against the truth at loss, or ``""``
    when everything it states agrees (a left-out word is not a drift).

    >>> drift_detail(1, 0, 0, 1), drift_detail(1, None, 0, 0)
    ('体型 中等→瘦；头发 短发→花白', '')
    """
    parts = []
    if build_seen is not None and build_seen != build_at_loss:
        parts.append(f"体型 {BUILD_NAMES[build_at_loss]}→{BUILD_NAMES[build_seen]}")
    if hair_seen is not None and hair_seen != hair_at_loss:
        parts.append(f"头发 {HAIR_NAMES[hair_at_loss]}→{HAIR_NAMES[hair_seen]}")
    return "；".join(parts)

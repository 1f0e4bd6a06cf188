"""Candidate passes declared as data: which reports each pass proposes for a resident, and how its
cap chooses among them.

A pass proposes a report when one of the resident's keys (a key set named by ``resident_keys``)
meets one of the report's (``report_keys``), the sexes agree when both are known (unless the pass
has ``any_sex``), and, for a pass
with a ``year_window``, the birth-year intervals lie within that window. Every pass is capped per
resident; :func:`kinmatch.match.candidates.candidate_pairs` runs the passes of
``CandidateSettings.passes`` in order and unions what they kept. Adding a pass is one more entry in
that list:

    >>> from dataclasses import replace
    >>> from kinmatch.match.candidates import CandidateSettings
    >>> accent = CandidatePass("accent_area", resident_keys="column:accent_area",
    ...                        report_keys="column:home_dialect_area", cap=50)
    >>> settings = replace(CandidateSettings(), passes=[*DEFAULT_PASSES, accent])
    >>> [p.name for p in settings.passes][-2:]
    ['last_resort', 'accent_area']

The key sets are named in :data:`kinmatch.match.candidates.RESIDENT_KEY_SETS` and
:data:`~kinmatch.match.candidates.REPORT_KEY_SETS`; ``"column:<name>"`` takes the keys as they
stand in a column of the normalized frame (a string or a tuple of strings per record).

The default passes (:data:`DEFAULT_PASSES`):

========================  ===================================================================
pass                      a report is proposed when …
========================  ===================================================================
``name_sound``            any sound key of its name or 小名 meets the resident's (dialect-merged
                          keys included, so 吴春花 meets 胡春花); any birth year; any recorded
                          sex (a mismatch is kept last)
``given_sound``           the given name or 小名 alone meets (二娃, 小军, 阿伟 — 阿英 meets 秀英 on
                          its last syllable; a resident who said only 明廷 meets 陈明廷), birth
                          years within a wide window
``one_char``              the written names differ in one character (李丹玲 / 李桂玲; names of
                          three or more characters)
``rare_surname``          a rare surname sound meets
``prefixed_surname``      the resident gave only 老薛 / 小黄 / 阿陈 and the report's surname sound
                          is 薛 / 黄 / 陈
``hometown``              the resident's accent provinces / dialect area / stated places point to
                          the report's home
``place``                 its missing place or hometown is in the prefecture where the resident
                          was found or one near it
``marks``                 it shares a mark type and body part (缺指:左手, 痣:额头), birth years
                          within the wide window; pairs sharing more marks and conditions are
                          kept first when capped
``mark_pairs``            it shares two marks at once (疤痕:额头 and 胎记:脸, either side), birth
                          years within the wide window: a combination of two common marks is
                          rare, and for a nameless resident found far from home it is often the
                          only clue
``dated_clothing``        for residents without a usable name: it says the person wore a piece
                          of the same colour and garment when lost (咖啡色棉袄), and was lost in the
                          month the resident was found or the one before; birth years within the
                          wide window; the model is not fitted on these pairs (``fit``)
``marks_other_sex``,      for residents without a usable name: as ``marks``, ``hometown`` and
``hometown_other_sex``,   ``place``, of the other recorded sex only (a sex recorded wrongly on
``place_other_sex``       one side); ranked only from match weight -4 up (``min_weight``), not
                          fitted on (``fit``)
``last_resort``           for residents with little evidence: its province is where the resident
                          was found or within ``near_km`` of it (every province when none is),
                          nearest missing places first
========================  ===================================================================

Not among the defaults (add them before the fallback pass): :data:`CONDITION_PASSES` (a shared
condition), :data:`HOME_CONDITION_PASSES` (the accent's home and a condition at once, a wide
birth-year window, for residents without a usable name) and :data:`CLOTHING_PASSES`
(``dated_clothing`` for residents with a usable name too).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

DISTANCE_RULES = ("capped", "full", "ignored")
"""How the pre-score of a pass's cap counts the distance from where the resident was found to
where the report's person was lost: ``capped`` up to ``CandidateSettings.cap_far_km``, ``full``
as it is, ``ignored`` not at all."""

RESIDENT_GROUPS = ("all", "nameless", "named")
"""Which residents a pass runs for (``CandidatePass.residents``): all, those without a usable
name (无名氏, an assigned 党X), those with one."""

SECOND_CLUES = ("home", "name")
"""Evidence beyond a pass's own key that its cap rewards (:func:`kinmatch.match.candidates._agreement`):
``home`` the accent, dialect area or a stated prefecture meeting the report's home (worth
``CandidateSettings.home_bonus``), ``name`` the surname and the last given syllable meeting the
report's (``CandidateSettings.name_bonus`` each)."""


@dataclass(frozen=True)
class CandidatePass:
    """One candidate pass.

    ``name``: unique; it names the pass in the pairs' ``passes`` column and the counts table.
    ``resident_keys`` / ``report_keys``: the key sets that must meet (a name in
    ``RESIDENT_KEY_SETS`` / ``REPORT_KEY_SETS``, or ``"column:<name>"``).
    ``cap``: most pairs kept per resident.
    ``year_window``: years allowed beyond both birth-year intervals, widened for older residents
    (``CandidateSettings.year_window_per_age``); None: birth years are not looked at (then the
    reports of every birth year and sex share one index entry per key, so use it only for a key as
    specific as a whole name's sound).
    ``max_key_share``: report keys held by this share of reports or more are not indexed (a
    surname every tenth report shares proposes thousands of strangers); None: every key.
    ``nameless_factor``: a resident without a usable name (无名氏, an assigned 党X) keeps this many
    times ``cap`` pairs: its name passes propose nothing, and its true report is found only among
    reports alike in place, marks and age.
    ``named_factor``: a resident with a usable name keeps this many times ``cap`` pairs (below 1 for
    the passes that are not about the name: the name passes carry such a resident, so the pairs a
    place or mark pass would keep for it are spent better on the residents without one).
    ``distance``: how the cap's pre-score counts distance (:data:`DISTANCE_RULES`): ``full`` for
    passes about nearness, ``ignored`` where the key itself says the resident is far from home.
    ``second_clues``: which evidence beyond the pass's own key the cap rewards (:data:`SECOND_CLUES`).
    ``near_km``: the resident's keys are widened by every report key whose centre (mean place of
    the reports holding it) lies within this many km of where the resident was found; None: no
    widening. ``everywhere_when_none_near``: a resident with no key, near or own, queries every key
    that has a centre.
    ``fallback``: the pass runs after all others, only for residents with little evidence (no usable
    name, no place clue, no mark) or fewer than ``CandidateSettings.few_candidates`` pairs from the
    passes that are not fallbacks.
    ``union_bonus``: support a pair proposed by this pass gets when the union of the passes is
    capped (``CandidateSettings.max_per_resident``): pairs of a pass this strong are kept first.
    ``residents``: which residents the pass runs for (:data:`RESIDENT_GROUPS`): ``"all"``, only
    those without a usable name (``"nameless"``: a key shared by so many reports is worth its cost
    where the name passes propose nothing), or only those with one (``"named"``).
    ``any_sex``: the pass also proposes reports whose recorded sex differs from the resident's; only
    for a pass without ``year_window``, whose index is not split by sex. ``other_sex_cap`` (read
    only with ``any_sex``): the most of those kept per resident, capped apart from the pairs whose
    sexes agree (so they neither displace them nor are crowded out by them at a million reports);
    None: they share ``cap`` and come last in it (:data:`kinmatch.match.candidates.SEX_MISMATCH_POINTS`).
    ``other_sex``: the pass proposes only reports whose recorded sex is the other one (a by-year
    pass, its index split by sex, queried for the other sex instead of the resident's own; a
    resident of unknown sex gets nothing from it, the pass of its own keys asks every sex). For a
    recorded sex that is wrong on one side (a clerk's slip, long hair on a man), where only place,
    marks and age are left to find the report by.
    ``fit``: when :func:`kinmatch.match.pipeline.run_link` fits the model, it fits it on the pairs
    of this pass too; False: on the pairs the passes with ``fit`` propose only (this pass's pairs are
    compared, scored and ranked all the same). For a pass whose pairs carry a disagreement on purpose
    (the other recorded sex) or agree by construction on what a comparison weighs (the clothes of
    the same month): fitted on, they move the EM's estimate of what true pairs look like, and with
    it the ranking of every other pair (at a million reports, to the EM's other fixed point).
    ``min_score``: a pair whose score in the pass's cap (the pre-score, less
    :data:`kinmatch.match.candidates.SEX_MISMATCH_POINTS` for the other sex, plus the second clues'
    bonuses) is below this is not kept, however few the pass has; None: no floor. For a pass whose
    pairs are a long shot unless the rest of the evidence is strong.
    ``min_weight``: a floor at ranking time, after the model has scored the pair: a pair proposed
    only by passes with ``min_weight`` is left out of the linking table when its match weight (the
    log2 odds of its match probability, so -4 is p 0.06) is below the lowest of their floors; a pair
    any pass without it proposes is ranked as it is. None: no floor. For a pass whose pairs are a
    long shot (the other recorded sex): the pair is shown when the rest of the evidence outweighs
    the mismatch, and a weak one does not push a candidate of the resident's own sex out of the top
    ``k`` (:func:`kinmatch.match.candidates.weight_floors`).
    """

    name: str
    resident_keys: str
    report_keys: str
    cap: int
    year_window: float | None = 5.0
    max_key_share: float | None = None
    nameless_factor: float = 1.0
    named_factor: float = 1.0
    distance: str = "capped"
    second_clues: tuple[str, ...] = SECOND_CLUES
    near_km: float | None = None
    everywhere_when_none_near: bool = False
    fallback: bool = False
    union_bonus: float = 0.0
    any_sex: bool = False
    other_sex_cap: int | None = None
    residents: str = "all"
    other_sex: bool = False
    fit: bool = True
    min_score: float | None = None
    min_weight: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "second_clues", tuple(self.second_clues))
        problems = []
        if not isinstance(self.name, str) or not self.name or "+" in self.name or self.name == "union":
            problems.append("its name must be a non-empty string without '+' and not 'union' (the counts "
                            "table's total row)")
        if self.residents not in RESIDENT_GROUPS:
            problems.append(f"residents {self.residents!r} is not one of {RESIDENT_GROUPS}")
        if self.distance not in DISTANCE_RULES:
            problems.append(f"distance {self.distance!r} is not one of {DISTANCE_RULES}")
        unknown = [clue for clue in self.second_clues if clue not in SECOND_CLUES]
        if unknown:
            problems.append(f"second_clues {unknown} are not among {SECOND_CLUES}")
        if int(self.cap) != self.cap or self.cap < 0:
            problems.append(f"cap {self.cap!r} must be a whole number of pairs, 0 or more")
        for factor in ("nameless_factor", "named_factor"):
            if getattr(self, factor) < 0:
                problems.append(f"{factor} {getattr(self, factor)!r} must not be negative")
        if self.other_sex_cap is not None and (int(self.other_sex_cap) != self.other_sex_cap or self.other_sex_cap < 0):
            problems.append(f"other_sex_cap {self.other_sex_cap!r} must be a whole number of pairs, 0 or more")
        if self.any_sex and self.year_window is not None:
            problems.append("any_sex needs year_window None (a by-year index is split by sex)")
        if self.other_sex and (self.year_window is None or self.any_sex):
            problems.append("other_sex needs a year_window and not any_sex (it asks a by-year index for the other "
                            "sex only)")
        if self.min_weight is not None and not math.isfinite(self.min_weight):
            problems.append(f"min_weight {self.min_weight!r} must be a finite number of bits (or None: no floor)")
        if self.everywhere_when_none_near and self.near_km is None:
            problems.append("everywhere_when_none_near needs near_km (the keys with a centre are 'everywhere')")
        if problems:
            raise ValueError(f"candidate pass {self.name!r}: " + "; ".join(problems) + ". Fix the pass's declaration.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; :meth:`from_dict` gives the pass back."""
        out = asdict(self)
        out["second_clues"] = list(self.second_clues)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CandidatePass:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"candidate pass {values.get('name')!r}: unknown fields {unknown}; a pass has "
                             f"{sorted(known)}. Was it saved by another version of kinmatch?")
        return cls(**values)


OTHER_SEX_MIN_WEIGHT = -4.0
"""The match weight (log2 odds; -4 is p 0.06) from which a pair of :data:`OTHER_SEX_PASSES` is
ranked (``CandidatePass.min_weight``)."""

OTHER_SEX_PASSES: tuple[CandidatePass, ...] = (
    # a sex recorded wrongly on one side hides the true report from every by-year pass (their
    # indexes are split by sex); a resident without a usable name has no name pass that ignores sex,
    # so it is asked again, of the other sex only, by what it has: marks, the accent's home, the
    # found place. The caps are small (the other sex is wrong for all but one or two in a hundred),
    # and the union bonus cancels the pre-score's sex penalty, so the pairs kept here are not all
    # dropped again when the union is capped; the model is not fitted on them (``fit``): pairs that
    # disagree on sex by construction moved its fit, and with it the ranking of every other pair.
    # A pair is ranked only from match weight -4 (p 0.06) up (``min_weight``): weaker ones, true for
    # a handful of residents in a hundred, pushed weak true pairs of the resident's own sex out of
    # the top 10; what outweighs the mismatch is shown, with 性别记录不一致 (bench/RESULTS.md)
    CandidatePass("marks_other_sex", "marks", "marks", cap=20, year_window=10.0, max_key_share=1.0,
                  residents="nameless", other_sex=True, union_bonus=30.0, fit=False, min_weight=OTHER_SEX_MIN_WEIGHT),
    CandidatePass("hometown_other_sex", "home_clues", "home_clues", cap=20, distance="ignored",
                  residents="nameless", other_sex=True, union_bonus=30.0, fit=False, min_weight=OTHER_SEX_MIN_WEIGHT),
    CandidatePass("place_other_sex", "found_prefecture", "lost_prefectures", cap=20, distance="full", near_km=150.0,
                  residents="nameless", other_sex=True, union_bonus=30.0, fit=False, min_weight=OTHER_SEX_MIN_WEIGHT),
)
"""Passes of the other recorded sex for residents without a usable name (marks, the accent's home,
the found place), among the defaults (before the fallback), their pairs ranked only from
:data:`OTHER_SEX_MIN_WEIGHT` up."""


# Caps: the strong name passes keep more; the pre-score picks the best-supported pairs when capped.
DEFAULT_PASSES: tuple[CandidatePass, ...] = (
    # birth years are not looked at: a sound of the whole name is specific enough, and the true pair
    # survives a resident's age misjudged by decades; its pairs are kept first in the union
    # a sex recorded wrongly on one record must not hide a whole name's sound: the pair is proposed
    # (after the others of the cap) and the sex comparison weighs the mismatch
    CandidatePass("name_sound", "name_sounds", "name_sounds", cap=200, year_window=None, union_bonus=20.0,
                  any_sex=True),
    CandidatePass("given_sound", "given_sounds", "given_sounds", cap=60, year_window=10.0),
    CandidatePass("one_char", "masked_names", "masked_names", cap=40),
    # a surname shared by 0.3% of reports or more proposes too many strangers by itself
    CandidatePass("rare_surname", "surname_sounds", "surname_sounds", cap=60, max_key_share=0.003),
    CandidatePass("prefixed_surname", "prefixed_surname", "surname_sounds", cap=60),
    # an accent points home, far from where the resident was found: distance must not decide the cap
    CandidatePass("hometown", "home_clues", "home_clues", cap=60, nameless_factor=5, distance="ignored"),
    CandidatePass("place", "found_prefecture", "lost_prefectures", cap=60, nameless_factor=5, distance="full",
                  near_km=150.0),
    # every mark type-and-part (a mark on every single report tells no report apart): on simulated
    # data with 30% nameless residents a shared common mark, capped by the shared-feature
    # pre-score, is often a nameless resident's only link
    CandidatePass("marks", "marks", "marks", cap=100, year_window=10.0, max_key_share=1.0, nameless_factor=4.0),
    CandidatePass("mark_pairs", "mark_pairs", "mark_pairs", cap=60, year_window=10.0, nameless_factor=4.0),
    # what a resident without a usable name wore on arrival, when found within a month or two of a
    # report's loss: a colour and garment alone is worn by thousands of the million reports, but lost
    # in the same month by a handful, and for such a resident it is often the one clue that is not
    # shared by thousands (its age, sex and condition are); the model is not fitted on these pairs
    # (``fit``): pairs chosen for agreeing on clothes sent the EM at a million reports to its other
    # fixed point; a small cap, as the clothing comparison weighs strangers in the same clothes of the
    # same month high, and more of them made more false leads (bench/RESULTS.md)
    CandidatePass("dated_clothing", "dated_clothing", "dated_clothing", cap=5, year_window=10.0,
                  residents="nameless", fit=False),
    *OTHER_SEX_PASSES,
    # a nameless resident is often found a thousand kilometres from home: provinces this far count
    CandidatePass("last_resort", "found_province", "lost_provinces", cap=120, nameless_factor=4.0, distance="full",
                  near_km=1500.0, everywhere_when_none_near=True, fallback=True),
)
"""The passes :class:`kinmatch.match.candidates.CandidateSettings` runs unless told otherwise."""

CONDITION_PASSES: tuple[CandidatePass, ...] = (
    # a condition (聋哑, 智力障碍, 痴呆 …) is often all that a resident who cannot say a name has besides
    # sex and age; it is shared by thousands of reports, and the cap keeps those of them the
    # pre-score ranks first (height, time lost, shared marks); the window is wide because a
    # confused or mute person's age is misjudged by more
    CandidatePass("conditions", "conditions", "conditions", cap=150, year_window=20.0, residents="nameless"),
    # for a resident with a name, a rarer condition (held by under a tenth of the reports: 聋哑, 癫痫)
    # is a second way in where the name was misheard: a narrower window and cap
    CandidatePass("conditions_named", "conditions", "conditions", cap=30, year_window=10.0, max_key_share=0.1,
                  residents="named"),
)
"""Passes by conditions, not among the defaults: ``conditions`` for residents without a usable name
(it shares a condition — 聋哑, 智力障碍, 痴呆, 精神障碍 … — birth years within a wide window) and
``conditions_named`` for the others (the rarer conditions, a narrower window and cap). At 10,000 x
1,000,000 they change little with the hand-set pre-score (whose caps rank by birth-year gap), and
with :data:`kinmatch.match.candidates.FITTED_PRESCORE_WEIGHTS` (the default) the model's fit went wrong
(bench/RESULTS.md); add them with
``replace(CandidateSettings(), passes=[*DEFAULT_PASSES[:-1], *CONDITION_PASSES, DEFAULT_PASSES[-1]])``."""

HOME_CONDITION_PASSES: tuple[CandidatePass, ...] = (
    # a resident who cannot say a name but whose accent (or a stated place) points home, and who has a
    # condition the report names too: the two together are rare enough at a million reports for a
    # wide birth-year window (a confused or mute person's age is misjudged by ten years and more,
    # which puts the true report outside the hometown pass's window)
    CandidatePass("home_conditions", "home_conditions", "home_conditions", cap=40, year_window=20.0,
                  distance="ignored", residents="nameless"),
)
"""A pass by home and condition at once for residents without a usable name, not among the
defaults; add it before the fallback pass."""

CLOTHING_PASSES: tuple[CandidatePass, ...] = (
    # the default pass by clothes and month (``dated_clothing``) for residents with a usable name too
    CandidatePass("dated_clothing_named", "dated_clothing", "dated_clothing", cap=5, year_window=10.0,
                  residents="named", fit=False),
)
"""The pass by the clothes worn when lost and the month of the loss for residents with a usable name
(the default ``dated_clothing`` runs for those without one), not among the defaults; add it before
the fallback pass."""

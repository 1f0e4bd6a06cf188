"""One true *person* per resident: a pair's probability as the posterior over all of the
resident's candidates, where the person may stand behind one to three reports.

A pair's Fellegi–Sunter probability looks at that pair alone. But the resident is one person: if
one candidate is almost certainly theirs, a weaker candidate that resembles the resident in the
same way is less likely to be (it competes), and a resident with twenty middling candidates is not
twenty times as likely to have a report as one with a single middling candidate. The one-to-many
assignment posterior (one match per resident) captures the competition, but a person reported by
the family, the police and a volunteer group has two or three true reports, and under it the second
report competes with the first.

Here the hypotheses for a resident are: none of the candidates is the person's (``H0``), or a set
``S`` of one to ``max_reports`` candidates is exactly the person's reports among them. With ``B_i``
the Bayes factor of candidate ``i`` (its match weight minus the prior weight, as a ratio against a
report drawn from the whole file of ``N`` reports) and ``t_k`` the share of residents with ``k``
true reports among their candidates,

    P(H_S) ∝ t_|S| / C(N, |S|) · ∏_{i∈S} B_i,        P(H0) ∝ t_0,

so a candidate's probability is the sum over the sets holding it; sums over sets of one size are
elementary symmetric polynomials of the ``B_i`` (:func:`resident_posterior`). ``t`` is fitted by EM
over the residents with the Bayes factors fixed (:func:`fit_report_shares`; every resident counts,
also those without candidates). With one candidate and ``max_reports=1`` this is the pair's own
probability with prior ``t_1 / N``.

    >>> import numpy as np
    >>> groups = np.array([0, 0, 1])                      # resident 0: two candidates, resident 1: one
    >>> log2_bayes = np.array([20.0, 20.0, 20.0])         # equally strong
    >>> shares = np.array([0.3, 0.5, 0.2])                # none / one report / two reports
    >>> resident_posterior(groups, log2_bayes, 1_000_000, shares).round(3).tolist()
    [0.539, 0.539, 0.636]
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_REPORTS", "resident_posterior", "fit_report_shares", "group_starts"]

MAX_REPORTS = 3
"""The most reports of one person the posterior counts among a resident's candidates (a person is
reported by the family, the police and a volunteer group: one to three reports)."""


def group_starts(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For integer resident ``groups`` (any order): the order that sorts them (stable), the start of
    each resident's run in that order, and each sorted pair's run number."""
    groups = np.asarray(groups)
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1] if len(groups) else np.zeros(0, dtype=int)
    run = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(groups)]))
    return order, starts, run


def _symmetric(scaled: np.ndarray, starts: np.ndarray, k_max: int) -> np.ndarray:
    """Per resident, the elementary symmetric polynomials e_0..e_k_max of its scaled Bayes factors
    (all in [0, 1], the largest 1), by Newton's identities from the power sums."""
    power = [np.add.reduceat(scaled ** (j + 1), starts) for j in range(k_max)]
    e = [np.ones(len(starts))]
    for k in range(1, k_max + 1):
        total = np.zeros(len(starts))
        for i in range(1, k + 1):
            total += (-1) ** (i - 1) * e[k - i] * power[i - 1]
        e.append(np.maximum(total / k, 0.0))
    return np.stack(e, axis=1)


def _log_prior(shares: np.ndarray, n_reports: int) -> np.ndarray:
    """log of t_k / C(N, k), k = 0..len(shares)-1."""
    shares = np.clip(np.asarray(shares, dtype=float), 1e-12, None)
    k = np.arange(len(shares))
    log_choose = (math.lgamma(n_reports + 1) - np.array([math.lgamma(n_reports - j + 1) for j in k])
                  - np.array([math.lgamma(j + 1) for j in k]))
    return np.log(shares) - log_choose


def _prepare(groups, log2_bayes, n_reports, k_max):
    order, starts, run = group_starts(groups)
    log_b = np.asarray(log2_bayes, dtype=float)[order] * math.log(2)
    top = np.maximum.reduceat(log_b, starts) if len(starts) else np.zeros(0)
    scaled = np.exp(log_b - top[run])
    e = _symmetric(scaled, starts, k_max)
    with np.errstate(divide="ignore"):
        log_e = np.log(e) + np.arange(k_max + 1)[None, :] * top[:, None]  # log e_k of the unscaled B
    return order, starts, run, scaled, top, log_e


def resident_posterior(groups, log2_bayes, n_reports: int, shares) -> np.ndarray:
    """Each pair's probability of being one of its resident's person's reports (module docstring):
    ``groups`` the resident of each pair (integers), ``log2_bayes`` its Bayes factor in bits,
    ``n_reports`` the reports in the file, ``shares`` t_0..t_K (K = len(shares) - 1 reports at most).
    Pairs come back in the order given."""
    shares = np.asarray(shares, dtype=float)
    k_max = len(shares) - 1
    n = len(np.asarray(log2_bayes))
    if n == 0:
        return np.zeros(0)
    order, starts, run, scaled, top, log_e = _prepare(groups, log2_bayes, n_reports, k_max)
    log_prior = _log_prior(shares, n_reports)
    log_z = np.logaddexp.reduce(log_prior[None, :] + log_e, axis=1)
    # e_{k-1} of the other candidates: E_0 = 1, E_j = e_j - s E_{j-1} (scaled), by the recurrence
    e = np.exp(log_e - np.arange(k_max + 1)[None, :] * top[:, None])[run]  # scaled e_k per pair
    others = [np.ones(n)]
    for k in range(1, k_max):
        others.append(np.maximum(e[:, k] - scaled * others[-1], 0.0))
    log_terms = []
    for k in range(1, k_max + 1):
        with np.errstate(divide="ignore"):
            # the set holds this pair and k-1 others: B_i · e_{k-1}(others), unscaled
            log_terms.append(log_prior[k] + np.log(scaled) + top[run] + np.log(others[k - 1]) + (k - 1) * top[run])
    log_numerator = np.logaddexp.reduce(np.stack(log_terms, axis=1), axis=1)
    posterior = np.clip(np.exp(log_numerator - log_z[run]), 0.0, 1.0)
    out = np.empty(n)
    out[order] = posterior
    return out


def fit_report_shares(groups, log2_bayes, n_reports: int, n_residents: int, max_reports: int = MAX_REPORTS,
                      max_iter: int = 500, tol: float = 1e-7) -> tuple[np.ndarray, int]:
    """t_0..t_max_reports (the share of residents with k true reports among their candidates) by
    EM with the Bayes factors fixed: each resident's posterior over k, averaged. Residents without
    candidates (``n_residents`` minus those in ``groups``) have k = 0. Returns the shares and the
    iterations run. The start is one report for half the residents; the log likelihood in the
    shares is concave, so the start does not matter.

        >>> rng = np.random.default_rng(1)
        >>> groups = np.repeat(np.arange(1000), 5)
        >>> truth = np.zeros(5000, dtype=bool); truth[::5][:600] = True   # 600 of 1000 have one
        >>> bits = np.where(truth, rng.normal(30, 3, 5000), rng.normal(0, 3, 5000))
        >>> shares, _ = fit_report_shares(groups, bits, 1_000_000, 1000, max_reports=2)
        >>> shares.round(2).tolist()
        [0.4, 0.6, 0.0]
    """
    k_max = int(max_reports)
    shares = np.r_[0.5, 0.5 * np.full(k_max, 1.0 / k_max)]
    if len(np.asarray(log2_bayes)) == 0:
        return np.r_[1.0, np.zeros(k_max)], 0
    _, starts, _, _, _, log_e = _prepare(groups, log2_bayes, n_reports, k_max)
    n_without = max(int(n_residents) - len(starts), 0)
    total = len(starts) + n_without
    n_iter = 0
    while n_iter < int(max_iter):
        n_iter += 1
        log_joint = _log_prior(shares, n_reports)[None, :] + log_e
        posterior = np.exp(log_joint - np.logaddexp.reduce(log_joint, axis=1)[:, None])
        new = posterior.sum(axis=0)
        new[0] += n_without
        new = new / total
        change = float(np.max(np.abs(new - shares)))
        shares = new
        if change < tol:
            break
    return shares, n_iter

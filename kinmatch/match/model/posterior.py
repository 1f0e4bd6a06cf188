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

import itertools
import math

import numpy as np

__all__ = ["MAX_REPORTS", "MAX_LINKED", "resident_posterior", "fit_report_shares", "group_starts", "linked_candidates",
           "linked_posterior", "fit_linked_shares", "candidate_clusters", "cluster_posterior", "fit_cluster_share"]

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
    if len(np.asarray(log2_bayes)) == 0:
        return np.r_[1.0, np.zeros(k_max)], 0
    log_e = _prepare(groups, log2_bayes, n_reports, k_max)[5]
    return _shares_em(log_e, n_reports, n_residents, k_max, max_iter, tol)


# -------------------------------------------------------------------------------------------------
# sets of reports that must also resemble each other


MAX_LINKED = 6
"""With report-to-report evidence (:func:`linked_posterior`), the sets of two or more reports are
drawn from a resident's ``MAX_LINKED`` candidates of highest Bayes factor (a person's second and
third report rank near the first; 15 pairs and 20 triples per resident)."""


def linked_candidates(groups, log2_bayes, top: int = MAX_LINKED) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of candidates (row positions ``left < right`` in rank order) among each resident's
    ``top`` candidates of highest Bayes factor: the report pairs whose resemblance
    :func:`linked_posterior` needs (ties broken by position, so the call is deterministic)."""
    slots = _top_slots(groups, log2_bayes, top)
    a, b = np.triu_indices(slots.shape[1], 1)
    left, right = slots[:, a].ravel(), slots[:, b].ravel()
    keep = (left >= 0) & (right >= 0)
    return left[keep], right[keep]


def _top_slots(groups, log2_bayes, top: int) -> np.ndarray:
    """Per resident run (as :func:`group_starts` numbers them), the rows of its ``top`` candidates
    of highest Bayes factor, best first; -1 where a resident has fewer."""
    groups = np.asarray(groups)
    log2_bayes = np.asarray(log2_bayes, dtype=float)
    _, starts, _ = group_starts(groups)
    if len(groups) == 0:
        return np.full((0, int(top)), -1, dtype=np.int64)
    order = np.lexsort((np.arange(len(groups)), -log2_bayes, groups))
    run = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(groups)]))
    position = np.arange(len(groups)) - starts[run]
    slots = np.full((len(starts), int(top)), -1, dtype=np.int64)
    inside = position < int(top)
    slots[run[inside], position[inside]] = order[inside]
    return slots


def _linked_terms(groups, log2_bayes, n_reports, k_max, left, right, link_bits, top):
    """The log weights of every hypothesis but ``H0``: ``log_e`` (residents × 0..k_max, the log sum
    of ∏ B over the sets of each size, times the links' factors for sizes ≥ 2) and what the pair
    posterior needs (the slots, the sets of sizes ≥ 2 and their log weights)."""
    log_b = np.asarray(log2_bayes, dtype=float) * math.log(2)
    order, starts, run = group_starts(groups)
    run_of_row = np.empty(len(log_b), dtype=np.int64)
    run_of_row[order] = run
    slots = _top_slots(groups, log2_bayes, top)
    n_runs, width = slots.shape
    slot_of_row = np.full(len(log_b), -1, dtype=np.int64)
    filled = slots >= 0
    slot_of_row[slots[filled]] = np.nonzero(filled)[1]
    link = np.zeros((n_runs, width, width))
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    bits = np.asarray(link_bits, dtype=float) * math.log(2)
    if len(left) and (np.any(slot_of_row[left] < 0) or np.any(slot_of_row[right] < 0)
                      or np.any(run_of_row[left] != run_of_row[right])):
        raise ValueError("linked pairs must join two of one resident's top candidates (linked_candidates)")
    link[run_of_row[left], slot_of_row[left], slot_of_row[right]] = bits
    link[run_of_row[left], slot_of_row[right], slot_of_row[left]] = bits
    top_b = np.where(filled, log_b[np.maximum(slots, 0)], -np.inf)
    log_e = np.full((n_runs, k_max + 1), -np.inf)
    log_e[:, 0] = 0.0
    log_e[:, 1] = np.logaddexp.reduceat(log_b[order], starts) if len(starts) else np.zeros(0)
    sets = []
    for k in range(2, k_max + 1):
        members = np.array(list(itertools.combinations(range(width), k)), dtype=np.int64).reshape(-1, k)
        weight = top_b[:, members].sum(axis=2)
        for a, b in itertools.combinations(range(k), 2):
            weight = weight + link[:, members[:, a], members[:, b]]
        with np.errstate(invalid="ignore"):
            weight = np.where(np.isfinite(weight), weight, -np.inf)
        log_e[:, k] = np.logaddexp.reduce(weight, axis=1) if len(members) else -np.inf
        sets.append((k, members, weight))
    return log_b, run_of_row, slots, sets, log_e, starts


def linked_posterior(groups, log2_bayes, n_reports: int, shares, left, right, link_bits,
                     top: int = MAX_LINKED) -> np.ndarray:
    """As :func:`resident_posterior`, where a set of two or three candidates must also be one
    person's reports *to each other*: its weight is multiplied by ``2 ** link_bits`` of each of its
    pairs of reports (``left``/``right``: the pairs :func:`linked_candidates` gives, rows of one
    resident; ``link_bits``: a report-to-report weight, e.g. the duplicate-report model's, for
    which the caller decides how much of an agreement counts), and sets of two or more are drawn
    from each resident's ``top`` candidates only. One candidate alone is as in
    :func:`resident_posterior`.

        >>> groups = np.zeros(3, dtype=int)
        >>> bits = np.array([20.0, 12.0, 12.0])            # one strong, two middling candidates
        >>> left, right = linked_candidates(groups, bits)
        >>> shares = np.array([0.3, 0.4, 0.3])
        >>> same = linked_posterior(groups, bits, 100_000, shares, left, right, np.zeros(3))
        >>> strangers = linked_posterior(groups, bits, 100_000, shares, left, right, np.full(3, -10.0))
        >>> bool(same[1] > 3 * strangers[1]), round(float(strangers[0]), 3)
        (True, 0.927)
    """
    shares = np.asarray(shares, dtype=float)
    k_max = len(shares) - 1
    n = len(np.asarray(log2_bayes))
    if n == 0:
        return np.zeros(0)
    log_b, run_of_row, slots, sets, log_e, _ = _linked_terms(groups, log2_bayes, n_reports, k_max, left, right,
                                                             link_bits, top)
    log_prior = _log_prior(shares, n_reports)
    log_z = np.logaddexp.reduce(log_prior[None, :] + log_e, axis=1)
    out = np.exp(log_prior[1] + log_b - log_z[run_of_row])
    inside = np.zeros(slots.shape)
    for k, members, weight in sets:
        share = np.exp(log_prior[k] + weight - log_z[:, None])
        holds = np.zeros((len(members), slots.shape[1]))
        np.put_along_axis(holds, members, 1.0, axis=1)
        inside += share @ holds
    filled = slots >= 0
    out[slots[filled]] += inside[filled]
    return np.clip(out, 0.0, 1.0)


def fit_linked_shares(groups, log2_bayes, n_reports: int, n_residents: int, left, right, link_bits,
                      max_reports: int = MAX_REPORTS, top: int = MAX_LINKED, max_iter: int = 500,
                      tol: float = 1e-7) -> tuple[np.ndarray, int]:
    """The shares t_0..t_max_reports of :func:`fit_report_shares` under :func:`linked_posterior`'s
    hypotheses (sets of two or more weighted by their reports' links to each other)."""
    k_max = int(max_reports)
    if len(np.asarray(log2_bayes)) == 0:
        return np.r_[1.0, np.zeros(k_max)], 0
    log_e = _linked_terms(groups, log2_bayes, n_reports, k_max, left, right, link_bits, top)[4]
    return _shares_em(log_e, n_reports, n_residents, k_max, max_iter, tol)


def _shares_em(log_e, n_reports, n_residents, k_max, max_iter, tol):
    """EM of the shares given each resident's log sums per number of reports (``log_e``)."""
    shares = np.r_[0.5, 0.5 * np.full(k_max, 1.0 / k_max)]
    n_without = max(int(n_residents) - len(log_e), 0)
    total = len(log_e) + n_without
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


# -------------------------------------------------------------------------------------------------
# one hypothesis per person: the candidates grouped into duplicate-report clusters


def candidate_clusters(n_pairs: int, left, right, same_person) -> np.ndarray:
    """Cluster labels (0..) of ``n_pairs`` candidate pairs: pairs ``left[i]``/``right[i]`` whose
    reports are one person (``same_person[i]`` True, e.g. a duplicate-report weight above a
    threshold) share a label, joined transitively (connected components); every other pair is a
    cluster of its own. Links should join pairs of one resident (:func:`linked_candidates`)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    keep = np.asarray(same_person, dtype=bool)
    left, right = np.asarray(left, dtype=np.int64)[keep], np.asarray(right, dtype=np.int64)[keep]
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(int(n_pairs), int(n_pairs)))
    return connected_components(graph, directed=False)[1]


def _cluster_bits(groups, log2_bayes, clusters) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cluster: its resident, and the best Bayes factor of its reports; and each pair's cluster."""
    _, cluster = np.unique(np.asarray(clusters), return_inverse=True)
    best = np.full(cluster.max() + 1 if len(cluster) else 0, -np.inf)
    np.maximum.at(best, cluster, np.asarray(log2_bayes, dtype=float))
    resident = np.zeros(len(best), dtype=np.int64)
    resident[cluster] = np.asarray(groups)
    return resident, best, cluster


def cluster_posterior(groups, log2_bayes, n_reports: int, shares, clusters) -> np.ndarray:
    """Each pair's probability that its report is the resident's person's, where the hypotheses
    are *persons*: no candidate (``t_0``) or one cluster of candidates (``clusters``, e.g. from
    :func:`candidate_clusters`) is the person (``t_1``), weighed by the best Bayes factor among its
    reports (the reports are copies of one description; the others add little that is new). Every
    report of a cluster gets the cluster's probability. This is :func:`resident_posterior` with one
    report per resident over the clusters, so a person's second report no longer competes with
    the first, and look-alike strangers are not a person's several reports.

        >>> groups = np.zeros(3, dtype=int)
        >>> bits = np.array([16.0, 13.0, 13.0])
        >>> apart = cluster_posterior(groups, bits, 20_000, [0.3, 0.7], [0, 1, 2])
        >>> together = cluster_posterior(groups, bits, 20_000, [0.3, 0.7], [0, 0, 2])
        >>> apart.round(2).tolist(), together.round(2).tolist()
        ([0.72, 0.09, 0.09], [0.8, 0.8, 0.1])
    """
    shares = np.asarray(shares, dtype=float)
    if len(shares) != 2:
        raise ValueError(f"cluster_posterior takes the shares of no person and one person (two), not {len(shares)}")
    if len(np.asarray(log2_bayes)) == 0:
        return np.zeros(0)
    resident, best, cluster = _cluster_bits(groups, log2_bayes, clusters)
    return resident_posterior(resident, best, n_reports, shares)[cluster]


def fit_cluster_share(groups, log2_bayes, n_reports: int, n_residents: int, clusters,
                      max_iter: int = 500, tol: float = 1e-7) -> tuple[np.ndarray, int]:
    """The shares (t_0, t_1) of :func:`cluster_posterior` by EM over the residents
    (:func:`fit_report_shares` over the clusters, one person at most)."""
    if len(np.asarray(log2_bayes)) == 0:
        return np.array([1.0, 0.0]), 0
    resident, best, _ = _cluster_bits(groups, log2_bayes, clusters)
    return fit_report_shares(resident, best, n_reports, n_residents, max_reports=1, max_iter=max_iter, tol=tol)

"""Sums over Efron's tie steps in closed form: the work per event time does not grow with its ties.

With d tied events at a time, Efron (1977) replaces the risk-set sum S by S_l = S - f_l D for l = 0..d-1,
f_l = l/d, D the sum over the tied events.  A Cox fit needs, per event time, the sums over its steps of
log S_l, 1/S_l, f_l/S_l, 1/S_l^2, f_l/S_l^2 and f_l^2/S_l^2.  Written as S_l = (D/d) u_l with
u_l = A - l, A = dS/D, the steps' u run over consecutive numbers z0, z0+1, .., z0+d-1 (z0 = A - d + 1), so
every sum is a combination of three sums over consecutive numbers,

    P0 = sum log u = lnGamma(z0 + d) - lnGamma(z0),
    P1 = sum 1/u   = psi(z0 + d) - psi(z0),
    P2 = sum 1/u^2 = psi'(z0) - psi'(z0 + d),

(Abramowitz & Stegun 1964, 6.1.40, 6.3.18, 6.4.12) evaluated from the asymptotic series in differences
(log1p of the ratio of the ends) so that nothing cancels when d is small against z0.  The series is used
from z0 >= 16, where its first omitted term is below 1e-19 of the sum; the steps below 16 and the event
times with at most 16 ties are summed term by term.  A 10,000,000-row registry with a few thousand distinct
days has millions of tied events and a few thousand event times: the per-step expansion (millions of
logarithms per Newton step, 25 times that for the likelihood profile) becomes a few thousand evaluations.

This is written by hand because no library offers these differences without cancellation (scipy's
``gammaln``/``psi`` of both ends lose up to log10(A/d) digits when the ties are few against the risk set).
"""
from __future__ import annotations

import numpy as np

from bmstats._checks import InputError

SUMS = ("log", "c", "e", "c2", "e2", "f2")  # the sums tie_step_sums can return
_DIRECT = 16  # steps with u below this, and every event time with at most this many ties, are summed directly
_SERIES = 0.25  # D/S up to which the sums are power series in D/S (its terms fall by 4 at least)
_TERMS = 40  # terms of that series: 4^-40 < 1e-24

# Bernoulli numbers B_2k, k = 1..7 (the series' terms up to z^-15 for lnGamma, z^-14 for psi, z^-15 for psi')
_B = np.array([1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6])
_K = np.arange(1, len(_B) + 1)


def _series_sums(z0: np.ndarray, n: np.ndarray, A: np.ndarray):
    """(sum log(u/A), P1, P2) over u = z0, .., z0 + n - 1 (z0 >= 16, n >= 1, A = z0 + n - 1) from Stirling's
    series for lnGamma and the asymptotic series of psi and psi', taken as differences of the two ends."""
    z1 = z0 + n
    ratio = np.log1p(n / z0)  # log(z1 / z0), exact however small n / z0 is
    lg = (z0 - 0.5) * ratio + n * np.log1p(1.0 / A) - n  # lnGamma(z1) - lnGamma(z0) - n log(A), leading part
    p1 = ratio + n / (2.0 * z0 * z1)
    p2 = n / (z0 * z1) + 0.5 * n * (z0 + z1) / (z0 * z0 * z1 * z1)
    inv0, inv1 = 1.0 / z0, 1.0 / z1
    for k, b in zip(_K, _B):
        a0, a1 = inv0 ** (2 * k - 1), inv1 ** (2 * k - 1)
        lg += b / (2 * k * (2 * k - 1)) * (a1 - a0)
        p1 -= b / (2 * k) * (a1 * inv1 - a0 * inv0)
        p2 += b * (a0 * inv0 * inv0 - a1 * inv1 * inv1)
    return lg, p1, p2


def tie_step_sums(S0: np.ndarray, D0: np.ndarray, d: np.ndarray, efron: bool, need=SUMS) -> dict:
    """Per event key k, sums over its tie steps l = 0..n_k-1 of the risk-set sum S0l = S0_k - f_l D0_k.

    ``log`` = sum log S0l, ``c`` = sum 1/S0l, ``e`` = sum f/S0l, ``c2`` = sum 1/S0l^2, ``e2`` = sum f/S0l^2,
    ``f2`` = sum f^2/S0l^2, with Efron's f_l = l/d_k over the d_k tied events (Efron 1977) or one step with
    f = 0 (Breslow).  ``S0`` and ``D0`` may hold one column per point (K, m) (the likelihood profile);
    ``need`` names the sums wanted.  Equal to the sums taken step by step to rounding (module docstring).

    Raises the package's error when a step's risk-set sum is not positive (entry and exit times that leave
    an event outside its own risk set).
    """
    S0 = np.asarray(S0, dtype=float)
    D0 = np.asarray(D0, dtype=float)
    flat = S0.ndim == 1
    if flat:
        S0, D0 = S0[:, None], D0[:, None]
    K, m = S0.shape
    d = np.asarray(d, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        if not efron:
            if np.any(S0 <= 0):
                raise InputError("risk set sums are not positive: check the entry and exit times")
            inv = 1.0 / S0
            zero = np.zeros((K, m))
            full = {"log": np.log(S0), "c": inv, "e": zero, "c2": inv * inv, "e2": zero, "f2": zero}
            out = {name: full[name].copy() for name in need}
        else:
            out = _efron(S0, D0, d, need)
    return {name: value[:, 0] for name, value in out.items()} if flat else out


def _efron(S0: np.ndarray, D0: np.ndarray, d: np.ndarray, need) -> dict:
    K, m = S0.shape
    dd = np.broadcast_to(d[:, None].astype(float), (K, m))
    last = S0 - (dd - 1) / dd * D0  # the smallest step, l = d - 1
    if np.any(last <= 0) or np.any(S0 <= 0):  # a NaN (a point far out) stays NaN: Newton-Raphson steps back
        raise InputError("risk set sums are not positive: check the entry and exit times")
    bad = ~(np.isfinite(S0) & np.isfinite(D0))
    if bad.any():
        S0, D0 = np.where(bad, 1.0, S0), np.where(bad, 0.0, D0)
    out = {name: np.zeros((K, m)) for name in need}
    rho = D0 / S0  # in [0, d/(d-1)): the tied events' share of the risk set
    few = dd <= _DIRECT
    series = ~few & (rho <= _SERIES)
    ends = ~few & ~series
    # the ends' series needs u >= _DIRECT: the steps below are summed directly (at most _DIRECT of them)
    z0 = np.where(ends, dd * last / np.where(ends, D0, 1.0), _DIRECT)
    peel = np.where(ends, np.clip(np.ceil(_DIRECT - z0), 0, _DIRECT), 0)
    direct = np.where(few, dd, peel)
    for j in range(int(direct.max(initial=0))):  # the steps l = d-1, d-2, .. term by term
        on = j < direct
        f = (dd - 1 - j) / dd
        _add_terms(out, on, np.where(on, S0 - f * D0, 1.0), f, need)
    if series.any():
        _add_series(out, series, S0, rho, d, need)
    if ends.any():
        n = (dd - peel)[ends]
        zs, Dv, Sv, dv = (z0 + peel)[ends], D0[ends], S0[ends], dd[ends]
        A = zs + n - 1
        q0, p1, p2 = _series_sums(zs, n, A)
        scale = dv / Dv  # 1/S_l = scale / u_l
        # sums of l/u, l/u^2 and l^2/u^2 (l = A - u) lose at most a factor 1/(4 rho)^2 < 16 here
        terms = {
            "log": n * np.log(Sv) + q0,
            "c": scale * p1,
            "e": scale / dv * (A * p1 - n),
            "c2": scale * scale * p2,
            "e2": scale * scale / dv * (A * p2 - p1),
            "f2": scale * scale / (dv * dv) * (A * A * p2 - 2 * A * p1 + n),
        }
        for name in need:
            out[name][ends] += terms[name]
    for name in need:
        out[name][bad] = np.nan
    return out


def _power_sums(d: np.ndarray, terms: int) -> np.ndarray:
    """tau_j(n) = sum_{l<n} (l/n)^j / n, j = 0..terms-1, from Faulhaber's formula (n > _DIRECT: no term of
    the alternating sum exceeds the result by more than a factor of ten)."""
    from scipy.special import bernoulli, comb

    B = bernoulli(terms)
    B[1] = -0.5  # sums up to n - 1
    inv = 1.0 / np.asarray(d, dtype=float)
    out = np.zeros((len(inv), terms))
    for j in range(terms):
        i = np.arange(j + 1)
        coef = comb(j + 1, i) * B[i] / (j + 1)
        out[:, j] = np.polynomial.polynomial.polyval(inv, coef)
    return out


def _add_series(out: dict, mask: np.ndarray, S0: np.ndarray, rho: np.ndarray, d: np.ndarray, need) -> None:
    """Keys with rho = D/S <= 1/4: the steps are S (1 - f_l rho), and every sum is a power series in rho
    whose coefficients are the power sums of f_l = l/d (so nothing cancels, and D = 0 needs no case)."""
    rows, cols = np.nonzero(mask)
    dv = d[rows].astype(float)
    y, s = rho[rows, cols], S0[rows, cols]
    # as many terms as the largest rho needs for rho^terms < 1e-22 (rho <= 1/4: at most _TERMS)
    top = float(y.max(initial=0.0))
    terms = _TERMS if top >= _SERIES else int(min(_TERMS, max(2, np.ceil(-22 / np.log10(max(top, 1e-300))) + 1)))
    keys, inverse = np.unique(d[rows], return_inverse=True)
    tau = _power_sums(keys, terms + 2)[inverse]  # (elements, terms)
    powers = np.cumprod(np.column_stack([np.ones_like(y)] + [y] * (terms - 1)), axis=1)
    k = np.arange(terms)
    # sum_l f^p (1 - f rho)^-q = d sum_k coef_q(k) rho^k tau_{k+p}: coef_1 = 1, coef_2 = k + 1;
    # log(1 - x) = -sum_{k>=1} x^k / k
    terms_of = {
        "log": lambda: np.log(s) - (powers[:, 1:] * tau[:, 1:terms] / k[1:]).sum(axis=1),
        "c": lambda: (powers * tau[:, :terms]).sum(axis=1) / s,
        "e": lambda: (powers * tau[:, 1:terms + 1]).sum(axis=1) / s,
        "c2": lambda: (powers * (k + 1) * tau[:, :terms]).sum(axis=1) / (s * s),
        "e2": lambda: (powers * (k + 1) * tau[:, 1:terms + 1]).sum(axis=1) / (s * s),
        "f2": lambda: (powers * (k + 1) * tau[:, 2:terms + 2]).sum(axis=1) / (s * s),
    }
    for name in need:
        out[name][rows, cols] += dv * terms_of[name]()


def _add_terms(out: dict, on: np.ndarray, t: np.ndarray, f: np.ndarray, need) -> None:
    """One step per key where ``on``: only the sums in ``need`` (the profile wants the logarithm alone)."""
    inv = 1.0 / t
    terms = {"log": lambda: np.log(t), "c": lambda: inv, "e": lambda: f * inv, "c2": lambda: inv * inv,
             "e2": lambda: f * inv * inv, "f2": lambda: f * f * inv * inv}
    for name in need:
        out[name] += np.where(on, terms[name](), 0.0)

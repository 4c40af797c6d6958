"""Mean cumulative function of recurrent events: Nelson-Aalen (Lawless-Nadeau) and Ghosh-Lin.

``method="nelson-aalen"``: the cumulative rate R(t) = sum_{s <= t} dN(s) / Y(s) with the robust variance
of Lawless & Nadeau (1995, Technometrics 37:158-168).  It is the mean number of events per subject only
when nobody dies: death removes subjects from the risk set as if they could still have events.

``method="ghosh-lin"``: the marginal mean E N(t) with death as a terminal event (Ghosh & Lin 2000,
Biometrics 56:554-562; Cook & Lawless 1997): mu(t) = sum_{s <= t} S(s-) dR(s), S the Kaplan-Meier
survival of the terminal event and dR the rate among survivors.  Its variance is the sum over subjects of
the squared influence functions

    psi_i(t) = int_0^t S(s-)/Y(s) dM_i(s) - mu(t) int_0^t 1/Y(s) dM^D_i(s) + int_0^t mu(s)/Y(s) dM^D_i(s),

M_i and M^D_i the recurrent-event and death martingales.  This is the standard error reported by
``mets::recurrentMarginal`` (checked to 1e-8 for the estimate and 1e-5 for the standard error on data
without tied jump times; mets assumes distinct jump times, bmstats handles ties as Kaplan-Meier and
Nelson-Aalen do: all events at a time share the risk set of that time).

Two steps, as for the other nonparametric estimators: ``aggregate_counts`` groups the rows into counts per
(group, distinct time) - at risk, entries, exits, events, terminal events - from which the estimate
follows.  The robust variance needs one more pass over the rows (each subject's influence function,
a cumulative sum within subject and a sum per time), written here with numpy because no Python library
has it; the work is O(n log n).

Confidence limits use the log transform, mu exp(+-z se / mu), as mets' summary does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bmstats._plot_docs import plot_doc
from bmstats._checks import InputError, require_frame
from bmstats._deprecation import legacy_arguments
from bmstats.engine import engine_source, is_engine_data
from bmstats.estimate._result import CurveResult, TestResult, conf_type_option, frozen_copy
from bmstats.estimate.counting_process import CountingProcess, counting_process
from bmstats.estimate.timescale import time_attrs

METHODS = ("ghosh-lin", "nelson-aalen")
CONF_TYPES = ("plain", "log")  # of the package's choices, those that suit a mean number of events


def aggregate_counts(cp: CountingProcess) -> pd.DataFrame:
    """Counts per (group, distinct time): n_enter, n_exit, n_event, n_terminal and n_risk.

    n_risk at t counts rows with start < t <= stop.  This is the GROUP BY step; everything in the
    estimate follows from this table.
    """
    return pd.concat([_aggregate_group(cp, g, rows)[0] for g, rows in _group_slices(cp)], ignore_index=True)


def _aggregate_group(cp: CountingProcess, g, rows: slice) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The counts of one group, and each row's start and stop as indices into the group's times."""
    s0, s1 = cp.start[rows], cp.stop[rows]
    times, inverse = np.unique(np.concatenate([s0, s1]), return_inverse=True)
    i0, i1 = inverse[: len(s0)], inverse[len(s0):]
    k = len(times)
    n_enter = np.bincount(i0, minlength=k)
    n_exit = np.bincount(i1, minlength=k)
    n_event = np.bincount(i1, weights=cp.event[rows], minlength=k).astype(np.int64)
    n_terminal = np.bincount(i1, weights=cp.terminal[rows], minlength=k).astype(np.int64)
    return counts_frame(g, times, n_enter, n_exit, n_event, n_terminal), i0, i1


def counts_frame(g, times, n_enter, n_exit, n_event, n_terminal) -> pd.DataFrame:
    """The aggregated table of one group from the counts at its distinct (start or stop) times; n_risk at t
    counts rows with start < t <= stop."""
    n_risk = np.cumsum(n_enter) - n_enter - (np.cumsum(n_exit) - n_exit)
    return pd.DataFrame({"group": g, "time": times, "n_risk": n_risk, "n_enter": n_enter, "n_exit": n_exit,
                         "n_event": n_event, "n_terminal": n_terminal})


def _group_slices(cp: CountingProcess):
    """(label, slice) per group; rows are sorted by group so each group is one contiguous block."""
    g = cp.group
    cuts = np.flatnonzero(np.r_[True, g[1:] != g[:-1], True])
    for a, b in zip(cuts[:-1], cuts[1:]):
        yield g[a], slice(a, b)


def _estimate(counts: pd.DataFrame, method: str) -> dict[str, np.ndarray]:
    """Step two on the aggregated table of one group: per distinct time, the rate and the estimate."""
    y = counts["n_risk"].to_numpy(dtype=float)
    d_event = counts["n_event"].to_numpy(dtype=float)
    d_term = counts["n_terminal"].to_numpy(dtype=float)
    safe_y = np.where(y > 0, y, 1.0)
    d_rate = np.where(y > 0, d_event / safe_y, 0.0)
    if method == "ghosh-lin":
        d_haz = np.where(y > 0, d_term / safe_y, 0.0)
        surv = np.cumprod(1.0 - d_haz)
        surv_minus = np.r_[1.0, surv[:-1]]
    else:
        d_haz = np.zeros_like(y)
        surv = surv_minus = np.ones_like(y)
    mu = np.cumsum(surv_minus * d_rate)
    return {"y": y, "safe_y": safe_y, "d_rate": d_rate, "d_haz": d_haz, "surv": surv,
            "surv_minus": surv_minus, "mu": mu}


def _coefficients(est: dict[str, np.ndarray], method: str) -> dict[str, np.ndarray]:
    """Per-time coefficients of the influence functions (step two, on the aggregated table of one group).

    a, m, b: the coefficients of dN_i in U, of dN^D_i in U and of dN^D_i in B; ku, kb: the cumulative
    compensators sum_(s <= t) (a dR + m dLambda) and sum_(s <= t) b dLambda.
    """
    y, safe_y, mu = est["y"], est["safe_y"], est["mu"]
    inv_y = np.where(y > 0, 1.0 / safe_y, 0.0)
    a = est["surv_minus"] * inv_y
    if method == "ghosh-lin":
        m, b = mu * inv_y, inv_y
    else:
        m = b = np.zeros(len(y))
    return {"a": a, "m": m, "b": b, "ku": np.cumsum(a * est["d_rate"] + m * est["d_haz"]),
            "kb": np.cumsum(b * est["d_haz"])}


def variance_sums(method: str) -> dict[str, list[tuple[str, ...]]]:
    """The row sums the variance needs, by kind: ``risk`` (over rows with start < t <= stop), ``stop``
    (over rows leaving at t) and ``frozen`` (over the time after a row's stop until the subject's next
    start).  Each is a product of the row values c (W_i at the row's start plus the compensator), j (the
    row's jump at its stop) and e (W_i at the row's end), for U (suffix u) and, Ghosh-Lin, B (suffix b)."""
    if method == "ghosh-lin":
        return {"risk": [("cu", "cu"), ("cu",), ("cu", "cb"), ("cb",), ("cb", "cb")],
                "stop": [("ju", "cu"), ("ju",), ("ju", "ju"), ("ju", "cb"), ("jb",), ("jb", "cu"), ("ju", "jb"),
                         ("jb", "cb"), ("jb", "jb")],
                "frozen": [("eu", "eu"), ("eu", "eb"), ("eb", "eb")]}
    return {"risk": [("cu", "cu"), ("cu",)], "stop": [("ju", "cu"), ("ju",), ("ju", "ju")],
            "frozen": [("eu", "eu")]}


def variance_from_sums(est: dict[str, np.ndarray], co: dict[str, np.ndarray], sums, method: str) -> np.ndarray:
    """Sum over subjects of psi_i(t)^2 at every distinct time, from the row sums of :func:`variance_sums`:
    ``sums(kind, *factors)`` is that sum at each distinct time.  psi_i(t) = U_i(t) - mu(t) B_i(t), and
    sum_i W_i W_i' at each time is a sum of row-level constants over the rows at risk, a correction for the
    rows jumping at that time, and the frozen values of subjects no longer at risk."""
    y, mu = est["y"], est["mu"]

    def quad(x: str, z: str, kx: np.ndarray, kz: np.ndarray) -> np.ndarray:
        cx, cz, jx, jz, ex, ez = "c" + x, "c" + z, "j" + x, "j" + z, "e" + x, "e" + z
        q = sums("risk", cx, cz) - kx * sums("risk", cz) - kz * sums("risk", cx) + y * kx * kz
        q += sums("stop", jx, cz) - kx * sums("stop", jz) + sums("stop", jz, cx) - kz * sums("stop", jx)
        q += sums("stop", jx, jz)
        q += sums("frozen", ex, ez)
        return q

    q_uu = quad("u", "u", co["ku"], co["ku"])
    if method != "ghosh-lin":
        return np.maximum(q_uu, 0.0)
    q_ub = quad("u", "b", co["ku"], co["kb"])
    q_bb = quad("b", "b", co["kb"], co["kb"])
    return np.maximum(q_uu - 2.0 * mu * q_ub + mu * mu * q_bb, 0.0)


def product_key(*factors: str) -> str:
    """One name for a product of row values whatever the order of its factors (``cu*cb`` = ``cb*cu``)."""
    return "_".join(sorted(factors))


def _variance(cp: CountingProcess, rows: slice, i0: np.ndarray, i1: np.ndarray, est: dict[str, np.ndarray],
              method: str) -> np.ndarray:
    """Sum over subjects of the squared influence functions psi_i(t), at every distinct time, in memory.

    Each influence function is a vector of two processes, U_i (event and death terms that are not
    multiplied by mu(t)) and B_i (the death term that is); psi_i(t) = U_i(t) - mu(t) B_i(t).
    Between its own jumps a subject at risk has W_i(t) = c_r - K(t), K the cumulative compensator and
    c_r constant over its row r; after its last row W_i stays frozen (:func:`variance_from_sums`).
    """
    ev, term, sid = cp.event[rows].astype(float), cp.terminal[rows].astype(float), cp.id_code[rows]
    k = len(est["y"])
    co = _coefficients(est, method)
    ku, kb = co["ku"], co["kb"]
    ju = co["a"][i1] * ev + co["m"][i1] * term  # jumps of U_i and B_i at the row's stop
    jb = co["b"][i1] * term
    # c_r = W_i at the row's start + K(start): exclusive cumulative sum of (jump - compensator) by subject
    du = ju - (ku[i1] - ku[i0])
    db = jb - (kb[i1] - kb[i0])
    first = np.r_[True, sid[1:] != sid[:-1]]
    last = np.r_[sid[1:] != sid[:-1], True]

    first_idx = np.maximum.accumulate(np.where(first, np.arange(len(sid)), 0))

    def exclusive_cumsum_by_subject(x: np.ndarray) -> np.ndarray:
        cs = np.cumsum(x) - x
        return cs - cs[first_idx]

    pu = exclusive_cumsum_by_subject(du)
    pb = exclusive_cumsum_by_subject(db)
    values = {"cu": pu + ku[i0], "cb": pb + kb[i0], "ju": ju, "jb": jb, "eu": pu + du, "eb": pb + db}
    # frozen values: from just after the row's stop until just after the subject's next start (if any)
    nxt = np.where(last, k, np.r_[i0[1:], k])

    def sums(kind: str, *factors: str) -> np.ndarray:
        w = np.prod([values[f] for f in factors], axis=0)
        if kind == "risk":  # start < t <= stop
            acc = np.bincount(i0 + 1, weights=w, minlength=k + 1) - np.bincount(i1 + 1, weights=w, minlength=k + 1)
            return np.cumsum(acc)[:k]
        if kind == "stop":
            return np.bincount(i1, weights=w, minlength=k)
        acc = np.bincount(i1 + 1, weights=w, minlength=k + 2)[: k + 1] - np.bincount(
            np.minimum(nxt + 1, k + 1), weights=w, minlength=k + 2)[: k + 1]
        return np.cumsum(acc)[:k]

    return variance_from_sums(est, co, sums, method)


def _limits(est: np.ndarray, se: np.ndarray, conf_level: float, conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    z = stats.norm.ppf(0.5 + conf_level / 2)
    if conf_type == "plain":
        return np.maximum(est - z * se, 0.0), est + z * se
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.exp(z * se / est)
    lower = np.where(est > 0, est / f, 0.0)
    upper = np.where(est > 0, est * f, 0.0)
    return lower, upper


@dataclass(frozen=True, repr=False)
class GroupComparison(TestResult):
    """Wald test of equal mean numbers of events at ``tau`` across groups: ``statistic``, ``df``,
    ``p_value``; ``table``: group, tau, estimate, std_err."""

    _table: pd.DataFrame
    tau: float
    _title = "Comparison of mean cumulative functions at tau"

    @property
    def table(self) -> pd.DataFrame:
        return frozen_copy(self._table)

    def _tidy(self) -> pd.DataFrame:
        return self._table

    def _notes(self) -> list[str]:
        return [f"tau = {self.tau:g}; chi-square = {self.statistic:.4g} on {self.df} df, p = {self.p_value:.4g}"]


@dataclass(frozen=True, repr=False)
class MeanCumulativeFunction(CurveResult):
    """Mean cumulative function by group (group ``"all"`` without ``by``).

    ``table``: group, time, n_risk, n_event, n_terminal, estimate, std_err, lower, upper at each
    distinct time with an event or (Ghosh-Lin) a terminal event; the curve is a right-continuous step
    function.  ``counts``: the aggregated table (step one).  ``n``: subjects; ``n_events``: events.
    """

    _counts: pd.DataFrame
    method: str
    conf_type: str
    by: str | None
    _n_subjects: dict
    _max_time: dict
    _start = 0.0

    @property
    def _title(self) -> str:  # type: ignore[override]
        name = "Ghosh-Lin marginal mean" if self.method == "ghosh-lin" else "Nelson-Aalen mean cumulative function"
        return f"{name} of recurrent events"

    def _notes(self) -> list[str]:
        return [", ".join(f"{g}: n = {n}" for g, n in self._n_subjects.items())
                + f"; events = {self.n_events}; {self.conf_level:.0%} CI ({self.conf_type})"]

    @property
    def counts(self) -> pd.DataFrame:
        return frozen_copy(self._counts)

    @property
    def n_subjects(self) -> dict:
        """Subjects per group."""
        return dict(self._n_subjects)

    @property
    def max_time(self) -> dict:
        """The last follow-up time per group (the curve is not defined after it)."""
        return dict(self._max_time)

    @property
    def groups(self) -> list:
        return list(self._n_subjects)

    def at(self, times) -> pd.DataFrame:
        """The step function at ``times`` (:func:`~bmstats.estimate._result.step_at`: 0 before the first
        event); estimate, std_err and limits are NaN after a group's last follow-up."""
        out = super().at(times)
        beyond = out["time"].to_numpy() > out["group"].map(self._max_time).to_numpy(dtype=float)
        out.loc[beyond, ["estimate", "std_err", "lower", "upper"]] = np.nan
        return out

    def compare(self, tau: float | None = None) -> GroupComparison:
        """Test that the groups have the same mean number of events by ``tau``.

        Wald chi-square on k-1 df for mu_1(tau) = ... = mu_k(tau), independent groups each with its robust
        variance: sum_g w_g (mu_g - mu_w)^2, w_g = 1/var_g and mu_w the w-weighted mean; for two groups
        it is the square of (mu_1 - mu_2) / sqrt(var_1 + var_2).  This is the comparison of mean
        numbers of events at a fixed time of Cook, Lawless & Nadeau (1996, Biometrics 52:557-571), here
        with the robust variance of the chosen estimator (Ghosh & Lin's when deaths stop the events).
        ``tau`` defaults to the smallest of the groups' last follow-up times; choose it in advance (e.g.
        the planned follow-up), not after looking at the curves.
        """
        if self.by is None or len(self.groups) < 2:
            raise InputError("compare() needs a result computed with by= and at least two groups")
        if tau is None:
            tau = float(min(self._max_time.values()))
        at = self.at([tau])
        if at["estimate"].isna().any():
            raise InputError(f"tau={tau:g} is beyond the follow-up of group(s) "
                             f"{', '.join(map(str, at.loc[at['estimate'].isna(), 'group']))}")
        mu, var = at["estimate"].to_numpy(), at["std_err"].to_numpy() ** 2
        if (var <= 0).any():
            raise InputError(f"a group has no events by tau={tau:g}: the variance is zero")
        w = 1.0 / var
        mw = np.sum(w * mu) / np.sum(w)
        stat = float(np.sum(w * (mu - mw) ** 2))
        df = len(mu) - 1
        table = pd.DataFrame({"group": at["group"], "tau": tau, "estimate": mu, "std_err": np.sqrt(var)})
        return GroupComparison(_table=table, statistic=stat, df=df, p_value=float(stats.chi2.sf(stat, df)),
                               tau=float(tau), n=self.n, dropped=self.dropped)

    @property
    def test(self) -> GroupComparison:
        """``compare()`` at the default tau."""
        return self.compare()

    def plot(self, ax=None, **kw):
        from bmstats.report import figures

        return figures.plot_mcf(self, ax=ax, **kw)

    plot.__doc__ = plot_doc("The mean cumulative function curves", "plot_mcf")


def _with_attrs(frame: pd.DataFrame, attrs: dict) -> pd.DataFrame:
    frame.attrs.update(attrs)
    return frame


@legacy_arguments(positional=("terminal", "by", "method", "conf_level", "conf_type", "dropna"))
def mean_cumulative_function(
    data: pd.DataFrame,
    id: str,
    start: str,
    stop: str,
    event: str,
    *,
    terminal: str | None = None,
    by: str | None = None,
    method: str = "ghosh-lin",
    conf_level: float = 0.95,
    conf_type: str = "log",
    dropna: bool = False,
) -> MeanCumulativeFunction:
    """Mean cumulative function of recurrent events from counting-process rows, with robust standard errors.

    Ghosh-Lin: mu(t) = sum_(s <= t) S(s-) dN(s) / Y(s), S the Kaplan-Meier survival of the terminal event;
    Nelson-Aalen: R(t) = sum_(s <= t) dN(s) / Y(s). Matches R's ``mets::recurrentMarginal`` (Ghosh-Lin) and
    ``survival::survfit(Surv(start, stop, event) ~ by, id = id)`` cumulative hazard (Nelson-Aalen).

    Parameters
    ----------
    data : pandas.DataFrame, path, DuckDB relation, polars or pyspark DataFrame
        One row per interval ``(start, stop]`` of a subject. A path to Parquet or CSV files, a DuckDB
        relation, a polars or a Spark DataFrame stays in its engine, which sends back per-time tables only
        (docs/scale.md); the numbers are the in-memory path's.
    id : str
        Column of subject ids.
    start : str
        Column of interval starts.
    stop : str
        Column of interval ends.
    event : str
        Column, 1 when a recurrent event happens at ``stop``.
    terminal : str, optional
        Column, 1 when the subject dies at ``stop`` (its last row).
    by : str, optional
        Column whose groups get separate curves.
    method : {"ghosh-lin", "nelson-aalen"}, default "ghosh-lin"
        Marginal mean with death stopping the events, or the cumulative rate among those under observation.
    conf_level : float, default 0.95
        Level of the confidence intervals.
    conf_type : {"log", "plain"}, default "log"
        Scale of the pointwise limits (log: mu exp(+-z se / mu)).
    dropna : bool, default False
        Rows with a missing value in a column used are an error naming the column and rows; with ``True``
        they are dropped and counted in ``.dropped``.

    Returns
    -------
    MeanCumulativeFunction
        ``.table`` (group, time, n_risk, n_event, estimate, std_err, lower, upper), ``.at(times)``,
        ``.plot(ax=)``.

    References
    ----------
    .. [1] Ghosh D, Lin DY. Nonparametric analysis of recurrent events and death. Biometrics
       2000;56:554-562.
    .. [2] Lawless JF, Nadeau C. Some simple robust methods for the analysis of recurrent events.
       Technometrics 1995;37:158-168.
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    conf_type_option(conf_type, CONF_TYPES)
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be between 0 and 1; got {conf_level!r}")
    if is_engine_data(data):
        from bmstats.engine.mcf import mcf_on_engine

        groups, n_events, dropped = mcf_on_engine(engine_source(data), id, start, stop, event, terminal=terminal,
                                                  by=by, method=method, dropna=dropna)
        return assemble(groups, method=method, conf_level=conf_level, conf_type=conf_type, by=by,
                        n_events=n_events, dropped=dropped, scale={})
    require_frame(data)
    scale = time_attrs(data)
    cp = counting_process(data, id, start, stop, event, terminal, by, dropna)
    groups = []
    for g, rows in _group_slices(cp):
        c, i0, i1 = _aggregate_group(cp, g, rows)
        est = _estimate(c, method)
        var = _variance(cp, rows, i0, i1, est, method)
        groups.append((g, c, est, var, int(len(np.unique(cp.id_code[rows])))))
    return assemble(groups, method=method, conf_level=conf_level, conf_type=conf_type, by=by,
                    n_events=int(np.sum(cp.event)), dropped=cp.dropped, scale=scale)


def assemble(groups, *, method: str, conf_level: float, conf_type: str, by, n_events: int, dropped,
             scale: dict) -> MeanCumulativeFunction:
    """The result from each group's (label, counts, estimate, variance, number of subjects): the rows of
    the table are the times with an event or (Ghosh-Lin) a terminal event."""
    tables, counts, n_subjects, max_time = [], [], {}, {}
    for g, c, est, var, n_sub in groups:
        counts.append(c)
        times = c["time"].to_numpy()
        keep = c["n_event"].to_numpy() > 0
        if method == "ghosh-lin":
            keep |= c["n_terminal"].to_numpy() > 0
        se = np.sqrt(var[keep])
        lower, upper = _limits(est["mu"][keep], se, conf_level, conf_type)
        tables.append(pd.DataFrame({
            "group": g, "time": times[keep], "n_risk": c["n_risk"].to_numpy()[keep],
            "n_event": c["n_event"].to_numpy()[keep], "n_terminal": c["n_terminal"].to_numpy()[keep],
            "estimate": est["mu"][keep], "std_err": se, "lower": lower, "upper": upper,
        }))
        n_subjects[g] = n_sub
        max_time[g] = float(times[-1])
    return MeanCumulativeFunction(
        _table=pd.concat(tables, ignore_index=True).pipe(_with_attrs, scale),
        _counts=pd.concat(counts, ignore_index=True),
        method=method,
        conf_level=conf_level,
        conf_type=conf_type,
        by=by,
        _n_subjects=n_subjects,
        _max_time=max_time,
        n=int(sum(n_subjects.values())),
        n_events=int(n_events),
        dropped=dropped,
    )

"""Figures of risk prediction and its validation; each function draws into ``ax`` (or a new figure) and returns
the Figure.

- :func:`plot_calibration`: smoothed calibration curve with its pointwise band, the diagonal, observed
  (Kaplan-Meier / Aalen-Johansen) against mean predicted risk in tenths of the predictions, and a histogram
  of the predictions along the bottom.
- :func:`plot_decision_curve`: net benefit against the risk threshold, with "treat all" and "treat none".
- :func:`plot_roc`: censoring-weighted ROC curves at a horizon, with the AUC in the legend.
- :func:`plot_risk_groups`: Kaplan-Meier (Aalen-Johansen) curves by groups of predicted risk, with each
  group's mean predicted risk at the horizon marked beside the observed curve.
- :func:`plot_nomogram`: a nomogram of a Cox or Fine-Gray model: points per covariate, total points, and the
  predicted risk at chosen times.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from bmstats.report import style as st

__all__ = ["plot_calibration", "plot_decision_curve", "plot_roc", "plot_risk_groups", "plot_nomogram"]


def _axes(ax, width="single", height: float | None = None):
    if ax is not None:
        return ax.figure, ax
    w = st.column_width(width)
    fig = Figure(figsize=(w, height or w), layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def plot_calibration(result: Any, ax: Any = None, *, width: str | float = "single", title: str | None = None,
                     groups: bool = True, histogram: bool = True) -> Figure:
    """Calibration plot of a :class:`bmstats.estimate.calibration.CalibrationResult`."""
    fig, ax = _axes(ax, width)
    curve, grp, preds = result.curve, result.groups, result.predictions
    models = list(pd.unique(curve["model"]))
    colors = st.palette(len(models))
    top = float(max(curve[["predicted", "upper"]].max().max(), grp["observed"].max(), 0.05))
    top = min(1.0, top * 1.05)
    ax.plot([0, top], [0, top], color="#999999", lw=0.8, ls="--", label="ideal")
    for m, c in zip(models, colors):
        cv = curve[curve.model == m]
        ax.fill_between(cv["predicted"], cv["lower"], cv["upper"], color=c, alpha=0.2, lw=0)
        ax.plot(cv["predicted"], cv["observed"], color=c, lw=1.5, label=m if len(models) > 1 else "smoothed")
        if groups:
            g = grp[grp.model == m]
            yerr = np.vstack([g["observed"] - g["lower"], g["upper"] - g["observed"]])
            ax.errorbar(g["predicted"], g["observed"], yerr=None if np.isnan(yerr).all() else yerr, fmt="o",
                        ms=3, color=c, lw=0.8, capsize=1.5, label="tenths (observed)" if len(models) == 1 else None)
    if histogram:
        hx = ax.twinx()
        for m, c in zip(models, colors):
            hx.hist(preds.loc[preds.model == m, "predicted"], bins=50, range=(0, top), color=c, alpha=0.35)
        hx.set_ylim(0, hx.get_ylim()[1] * 6)  # the histogram fills the lowest sixth
        hx.set_yticks([])
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    what = f"cause {result.cause} " if result.competing else ""
    ax.set_xlabel(f"Predicted {what}risk by {result.time_horizon:g}")
    ax.set_ylabel(f"Observed {what}risk by {result.time_horizon:g}")
    ax.legend(frameon=False, fontsize="small", loc="upper left")
    if title:
        ax.set_title(title)
    return fig


def plot_decision_curve(frame: pd.DataFrame, ax: Any = None, *, width: str | float = "single",
                        title: str | None = None, ylim: tuple[float, float] | None = None) -> Figure:
    """Decision curves from :func:`bmstats.net_benefit`'s frame."""
    from bmstats.estimate.decision import TREAT_ALL, TREAT_NONE

    fig, ax = _axes(ax, width)
    models = [m for m in pd.unique(frame["model"]) if m not in (TREAT_ALL, TREAT_NONE)]
    colors = st.palette(len(models))
    all_ = frame[frame.model == TREAT_ALL]
    ax.plot(all_["threshold"], all_["net_benefit"], color="#777777", lw=1, label=TREAT_ALL)
    ax.axhline(0, color="#000000", lw=0.8, label=TREAT_NONE)
    for m, c, ls in zip(models, colors, st.LINESTYLES * 4):
        f = frame[frame.model == m]
        ax.plot(f["threshold"], f["net_benefit"], color=c, lw=1.5, ls=ls, label=m)
    best = frame.loc[frame.model != TREAT_ALL, "net_benefit"].max()
    lo, hi = ylim or (-0.05 * max(best, 0.01), max(best, all_["net_benefit"].max()) * 1.1)
    ax.set_ylim(lo, hi)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Risk threshold")
    ax.set_ylabel("Net benefit")
    ax.legend(frameon=False, fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def plot_roc(result: Any, ax: Any = None, *, time: float | None = None, width: str | float = "single",
             title: str | None = None) -> Figure:
    """Time-dependent ROC curves of a :class:`bmstats.estimate.score.ScoreResult` at ``time`` (default: its
    first horizon)."""
    fig, ax = _axes(ax, width)
    roc = result.roc
    t = result.times[0] if time is None else float(time)
    if t not in set(roc["time"]):
        raise ValueError(f"no ROC curve at time {t:g}; horizons: {list(result.times)}")
    auc = result.auc.set_index(["model", "time"])["estimate"]
    models = list(pd.unique(roc["model"]))
    for m, c in zip(models, st.palette(len(models))):
        r = roc[(roc.model == m) & (roc.time == t)]
        ax.step(r["fpr"], r["tpr"], where="post", color=c, lw=1.5, label=f"{m} (AUC {auc.loc[(m, t)]:.3f})")
    ax.plot([0, 1], [0, 1], color="#999999", lw=0.8, ls="--")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("Sensitivity")
    ax.set_title(title or f"ROC at {t:g}")
    ax.legend(frameon=False, fontsize="small", loc="lower right")
    return fig


def plot_risk_groups(data: pd.DataFrame, time: str, status: str, risk, *, time_horizon: float, groups: int = 4,
                     cause: int = 1, ax: Any = None, width: str | float = "single",
                     title: str | None = None) -> Figure:
    """Observed risk curves (1 - Kaplan-Meier, or Aalen-Johansen for ``cause``) in groups of predicted risk
    (quantile groups), each group's mean predicted risk at ``time_horizon`` marked beside its curve."""
    from bmstats.estimate.calibration import _aalen_johansen

    fig, ax = _axes(ax, width)
    T = data[time].to_numpy(dtype=float)
    S = data[status].to_numpy().astype(int)
    p = np.asarray(data[risk] if isinstance(risk, str) else risk, dtype=float)
    q = pd.qcut(pd.Series(p).rank(method="first"), groups, labels=False).to_numpy()
    for g, c in zip(range(groups), st.palette(groups)):
        m = q == g
        grid, _, _, _, _, _, F = _aalen_johansen(T[m], S[m], cause)
        keep = grid <= time_horizon
        ax.step(np.r_[0, grid[keep], time_horizon], np.r_[0, F[keep], F[keep][-1] if keep.any() else 0],
                where="post", color=c, lw=1.3, label=f"group {g + 1} (mean predicted {p[m].mean():.0%})")
        ax.plot([time_horizon * 1.02], [p[m].mean()], marker="<", color=c, ms=6, clip_on=False)
    ax.set_xlim(0, time_horizon * 1.05)
    ax.set_ylim(0, None)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Time")
    ax.set_ylabel("Observed risk" + (f" of cause {cause}" if np.any(S > 1) else ""))
    ax.legend(frameon=False, fontsize="x-small", loc="upper left")
    if title:
        ax.set_title(title)
    return fig


def _nomogram_variables(model, data: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(variable, values shown, linear-predictor contribution) per source variable of the formula, with the
    other variables held at their first row's value (contributions are differences, so that cancels)."""
    from bmstats.estimate.design import formula_variables

    coef = model.coef.to_numpy()
    variables = formula_variables(data, model.design.formula)
    base = data.iloc[[0]]
    out = []
    for v in variables:
        col = data[v]
        if isinstance(col.dtype, pd.CategoricalDtype):
            values = np.array([c for c in col.cat.categories if c in set(col)], dtype=object)
        elif not pd.api.types.is_numeric_dtype(col):
            values = np.array(sorted(pd.unique(col.dropna()), key=str), dtype=object)
        elif col.nunique() <= 2:
            values = np.sort(pd.unique(col.dropna())).astype(float)
        else:
            lo, hi = np.nanpercentile(col.to_numpy(dtype=float), [1, 99])
            values = np.unique([float(f"{v:.2g}") for v in np.linspace(lo, hi, 6)])
        frame = pd.concat([base] * len(values), ignore_index=True)
        frame[v] = pd.Series(values, dtype=col.dtype) if isinstance(col.dtype, pd.CategoricalDtype) else values
        lp = model.design.transform(frame).to_numpy(dtype=float) @ coef
        out.append((v, values, lp - lp.min()))
    return out


def plot_nomogram(model: Any, data: pd.DataFrame, *, times: Sequence[float], ax: Any = None,
                  width: str | float = "double", title: str | None = None, time_label: str = "") -> Figure:
    """Nomogram of a Cox or Fine-Gray model (no interactions): each covariate's points (the largest effect
    spans 0-100), total points, and the predicted risk by each time in ``times``
    (``1 - exp(-Lambda0(t) exp(lp))``)."""
    from bmstats.estimate.prediction import predict_risk

    rows = _nomogram_variables(model, data)
    spans = [c.max() for _, _, c in rows]
    scale = 100 / max(max(spans), 1e-12)
    n_rows = 2 + len(rows) + len(times)
    fig, ax = _axes(ax, width, height=0.35 * n_rows + 0.6)
    y = n_rows
    ax.plot([0, 100], [y, y], color="#000000", lw=0.8)
    for x in range(0, 101, 10):
        ax.plot([x, x], [y, y + 0.12], color="#000000", lw=0.8)
        ax.text(x, y + 0.18, str(x), ha="center", va="bottom", fontsize=6)
    ax.text(-3, y, "Points", ha="right", va="center", fontsize=7)
    for name, values, contrib in rows:
        y -= 1
        pts = contrib * scale
        ax.plot([pts.min(), pts.max()], [y, y], color="#000000", lw=0.8)
        for v, x in zip(values, pts):
            ax.plot([x, x], [y, y + 0.1], color="#000000", lw=0.8)
            label = f"{v:g}" if isinstance(v, (int, float, np.number)) else str(v)
            ax.text(x, y + 0.15, label, ha="center", va="bottom", fontsize=6)
        ax.text(-3, y, name, ha="right", va="center", fontsize=7)
    total_max = sum(c.max() * scale for _, _, c in rows)
    y -= 1
    ticks = np.linspace(0, total_max, 9)
    to_axis = 100 / max(total_max, 1e-12)
    ax.plot([0, 100], [y, y], color="#000000", lw=0.8)
    for tk in ticks:
        ax.plot([tk * to_axis] * 2, [y, y + 0.1], color="#000000", lw=0.8)
        ax.text(tk * to_axis, y + 0.15, f"{tk:.0f}", ha="center", va="bottom", fontsize=6)
    ax.text(-3, y, "Total points", ha="right", va="center", fontsize=7)
    # risk axes: total points -> linear predictor -> risk; the reference row is the lowest-points profile
    base = data.iloc[[0]].copy()
    for name, values, contrib in rows:
        v = values[int(np.argmin(contrib))]
        base[name] = pd.Series([v], index=base.index, dtype=data[name].dtype) if isinstance(
            data[name].dtype, pd.CategoricalDtype) else v
    lp0 = model.design.transform(base).to_numpy(dtype=float) @ model.coef.to_numpy()
    for t in times:
        y -= 1
        r0 = float(predict_risk(model, base, [t])["risk"].iloc[0])
        h0 = -np.log1p(-r0) / np.exp(lp0[0])  # Lambda0(t) at lp = 0
        total = np.linspace(0, total_max, 400)
        risk = -np.expm1(-h0 * np.exp(lp0[0] + total / scale))
        marks = [x for x in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
                 if risk.min() <= x <= risk.max()]
        xs = [np.interp(x, risk, total) * to_axis for x in marks]
        if xs:
            ax.plot([min(xs), max(xs)], [y, y], color="#000000", lw=0.8)
        for x, m in zip(xs, marks):
            ax.plot([x, x], [y, y + 0.1], color="#000000", lw=0.8)
            ax.text(x, y + 0.15, f"{m:g}", ha="center", va="bottom", fontsize=6)
        ax.text(-3, y, f"Risk by {t:g}{(' ' + time_label) if time_label else ''}", ha="right", va="center",
                fontsize=7)
    ax.set_xlim(-2, 102)
    ax.set_ylim(y - 0.6, n_rows + 0.8)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig

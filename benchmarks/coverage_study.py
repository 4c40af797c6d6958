"""Simulation study: do bmstats' 95% intervals cover the truth 95% of the time?  (`make coverage`)

Three estimators, each over R replicate cohorts (default 200) against a truth known exactly:

1. Aalen-Johansen (``bm.cumulative_incidence``, log(-log) limits, cmprsk variance): cumulative incidence of
   the first bone metastasis at 5 years from diagnosis, death competing, in the default calibrated model
   (overall and TNBC).  Truth: ``cohort.truth`` (numerical integration of the model's hazards).
   Data: ``bm.simulate_cohort`` -> ``Cohort.endpoint("bone_metastasis", competing=("death",))``.

2. Cause-specific Cox (``bm.cause_specific_cox``): in a scenario where the cause-specific hazard of bone
   metastasis is *exactly* proportional: one subtype (HR+/HER2-), no de novo stage IV and no visceral-first
   pattern (``first_met_pattern`` [0.6, 0.4, 0]), so every first distant metastasis involves bone and the
   hazard of the first BM is ``h0(t) exp(x'beta)`` with x = N1-3, N4+, grade 3, size > 50 mm, age < 40 - the
   simulator's own hazard ratios (log 2, log 3.5, log 1.5, log 1.6, log 1.5).  Death competes.

3. Fine-Gray (``bm.fine_gray``): the simulator's multistate model does not have proportional
   subdistribution hazards in any covariate, so the coefficient a Fine-Gray fit converges to there depends
   on the censoring and has no closed form.  Instead the outcome is drawn from the design of Fine & Gray
   (JASA 1999, section 5): F1(t | x) = 1 - [1 - p (1 - exp(-t / tau))]^exp(x'beta), which has exactly
   proportional subdistribution hazards, with p = 0.12, tau = 4 years, beta = (0.8, 0.4) for N4+ and grade
   3 taken from a simulated cohort (realistic covariates), the competing cause exponential with rate
   0.10 exp(0.3 N4+) per year given cause 2, and the simulated cohort's censoring (administrative from its
   diagnosis dates plus 2% per year lost to follow-up).

For each quantity: truth, mean estimate, bias, empirical SD of the estimates, mean model SE and coverage
with its Monte Carlo standard error sqrt(0.95 * 0.05 / R) (1.5 points for R = 200): a coverage outside
about 92-98% is a bug to find.  Usage: ``python benchmarks/coverage_study.py [--replicates R] [--n N]``.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import bmstats as bm  # noqa: E402

CS_SCENARIO = {
    "subtype_mix": {"HR+/HER2-": 1.0, "HR+/HER2+": 0.0, "HR-/HER2+": 0.0, "TNBC": 0.0},
    "stage_iv": {"HR+/HER2-": 0.0},
    "first_met_pattern": {"HR+/HER2-": [0.6, 0.4, 0.0]},
    # more first metastases, so that every replicate has a few hundred events
    "metastasis_hazard": {"HR+/HER2-": [0.015, 0.025, 0.025, 0.022, 0.020, 0.018, 0.016, 0.014, 0.012]},
}
CS_TERMS = {"n13": "nodes_1_3", "n4": "nodes_4plus", "g3": "grade_3", "big": "size_gt_50", "young": "age_lt_40"}
FG_BETA = {"n4": 0.8, "g3": 0.4}
FG_P, FG_TAU, FG_RATE2, FG_BETA2 = 0.12, 4.0, 0.10, 0.3


def covariates(frame: pd.DataFrame) -> pd.DataFrame:
    nodes = frame["nodes_positive"].astype(float)
    return frame.assign(
        n13=((nodes >= 1) & (nodes <= 3)).astype(float),
        n4=(nodes >= 4).astype(float),
        g3=(frame["grade"].astype(float) == 3).astype(float),
        big=(frame["tumor_size_mm"] > 50).astype(float),
        young=(frame["age"] < 40).astype(float),
    )


def aj_replicate(n: int, seed: int) -> list[dict]:
    cohort = bm.simulate_cohort(n, seed)
    ep = cohort.endpoint("bone_metastasis", competing=("death",))
    truth = cohort.truth["cumulative_incidence"]
    i5 = truth["times"].index(5.0)
    rows = []
    for group, data in (("overall", ep), ("TNBC", ep[ep["subtype"] == "TNBC"])):
        at = bm.cumulative_incidence(data, "time", "status").at([5.0])
        r = at[at["cause"] == 1].iloc[0]
        rows.append({
            "estimator": "Aalen-Johansen", "quantity": f"CIF of BM at 5 y, {group}",
            "truth": truth["bone_metastasis"][group][i5], "estimate": r["estimate"],
            "se": r["std_err"], "lower": r["lower"], "upper": r["upper"],
        })
    return rows


def cs_replicate(n: int, seed: int) -> list[dict]:
    cohort = bm.simulate_cohort(n, seed, **CS_SCENARIO)
    ep = covariates(cohort.endpoint("bone_metastasis", competing=("death",)))
    fit = bm.cause_specific_cox(ep, "time", "status", " + ".join(CS_TERMS), cause=1)
    truth = cohort.truth["log_hazard_ratios_first_distant_metastasis"]
    s = fit.summary
    return [
        {"estimator": "cause-specific Cox", "quantity": f"log HR {term} ({name})", "truth": truth[name],
         "estimate": s.loc[term, "coef"], "se": s.loc[term, "std_err"],
         "lower": np.log(s.loc[term, "lower"]), "upper": np.log(s.loc[term, "upper"])}
        for term, name in CS_TERMS.items()
    ]


def fg_replicate(n: int, seed: int) -> list[dict]:
    patients = covariates(bm.simulate_cohort(n, seed).patients)
    rng = np.random.Generator(np.random.PCG64([seed, 1999]))
    eta = sum(beta * patients[term].to_numpy() for term, beta in FG_BETA.items())
    e = np.exp(eta)
    p1 = 1 - (1 - FG_P) ** e
    u = rng.random(n)
    cause1 = u < p1
    with np.errstate(invalid="ignore", divide="ignore"):
        t1 = -FG_TAU * np.log(1 - (1 - (1 - u) ** (1 / e)) / FG_P)
    t2 = rng.standard_exponential(n) / (FG_RATE2 * np.exp(FG_BETA2 * patients["n4"].to_numpy()))
    t = np.where(cause1, t1, t2)
    admin = ((pd.Timestamp("2020-12-31") - patients["dx_date"]).dt.days / 365.25).to_numpy()
    censor = np.minimum(admin, rng.standard_exponential(n) / 0.02)
    data = patients[list(FG_BETA)].assign(
        time=np.minimum(t, censor), status=np.where(t <= censor, np.where(cause1, 1, 2), 0)
    )
    fit = bm.fine_gray(data, "time", "status", " + ".join(FG_BETA), cause=1)
    s = fit.summary
    return [
        {"estimator": "Fine-Gray", "quantity": f"log SHR {term}", "truth": beta,
         "estimate": s.loc[term, "coef"], "se": s.loc[term, "std_err"],
         "lower": np.log(s.loc[term, "lower"]), "upper": np.log(s.loc[term, "upper"])}
        for term, beta in FG_BETA.items()
    ]


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    rows = rows.assign(covered=(rows["lower"] <= rows["truth"]) & (rows["truth"] <= rows["upper"]))
    g = rows.groupby(["estimator", "quantity"], sort=False)
    out = g.agg(
        replicates=("estimate", "size"), truth=("truth", "first"), mean_estimate=("estimate", "mean"),
        empirical_sd=("estimate", "std"), mean_se=("se", "mean"), coverage=("covered", "mean"),
    ).reset_index()
    out["bias"] = out["mean_estimate"] - out["truth"]
    out["coverage_mc_se"] = np.sqrt(0.95 * 0.05 / out["replicates"])
    return out[["estimator", "quantity", "replicates", "truth", "mean_estimate", "bias", "empirical_sd",
                "mean_se", "coverage", "coverage_mc_se"]]


def markdown(table: pd.DataFrame) -> str:
    def fmt(x):
        return f"{x:.4f}" if isinstance(x, float) else str(x)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--n", type=int, default=5000, help="patients per replicate cohort")
    parser.add_argument("--seed", type=int, default=1, help="replicate r uses seed + r")
    parser.add_argument("--only", choices=["aj", "cs", "fg"], nargs="*", default=["aj", "cs", "fg"])
    parser.add_argument("--output", type=Path, default=HERE / "results" / "coverage.md")
    args = parser.parse_args(argv)

    runners = {"aj": aj_replicate, "cs": cs_replicate, "fg": fg_replicate}
    rows: list[dict] = []
    t0 = time.perf_counter()
    # small replicates can warn (slow convergence, few events); the study reports coverage, not each fit
    with warnings.catch_warnings(action="ignore"):
        for name in args.only:
            for r in range(args.replicates):
                rows.extend(runners[name](args.n, args.seed + r))
            print(f"  {name}: {args.replicates} replicates done ({time.perf_counter() - t0:.0f} s)", flush=True)
    table = summarise(pd.DataFrame(rows))
    text = (
        f"Coverage of 95% intervals over {args.replicates} replicate cohorts of {args.n:,} patients "
        f"(seeds {args.seed}-{args.seed + args.replicates - 1}); {time.perf_counter() - t0:.0f} s\n\n"
        + markdown(table)
    )
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

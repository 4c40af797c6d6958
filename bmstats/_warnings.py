"""bmstats' own warnings, and the one place where third-party warnings become them.

A fit that iterates (Newton-Raphson for Cox and Fine-Gray, IRLS for statsmodels GLMs, the negative binomial
theta loop) warns with :class:`ConvergenceWarning` when it stops without converging or when a coefficient
diverges; the warning carries ``converged`` so that code catching it can tell the two apart. Warnings that
statsmodels raises inside a fit are caught by type and re-issued as bmstats' own with the model named
(:func:`reissue_fit_warnings`); nothing is silenced.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

__all__ = ["ConvergenceWarning", "reissue_fit_warnings"]


class ConvergenceWarning(UserWarning):
    """An iterative fit did not converge, or converged to a coefficient that diverges.

    Parameters
    ----------
    message : str
        What happened, naming the model and, where known, the term.
    converged : bool, default False
        Whether the iterations met their tolerance. ``True`` with a diverging coefficient (monotone
        likelihood: the estimate runs off to infinity while the log likelihood converges).

    Attributes
    ----------
    converged : bool
        As given.

    References
    ----------
    .. [1] Heinze G, Schemper M. A solution to the problem of monotone likelihood in Cox regression.
       Biometrics 2001;57:114-119.
    """

    def __init__(self, message: str, converged: bool = False) -> None:
        super().__init__(message)
        self.converged = bool(converged)


def _statsmodels_kinds() -> tuple[tuple[type[Warning], bool, str], ...]:
    from statsmodels.tools import sm_exceptions as sme

    return (
        (sme.ConvergenceWarning, False, "did not converge"),
        (sme.PerfectSeparationWarning, True, "perfect separation: a coefficient diverges"),
        (sme.HessianInversionWarning, False, "the Hessian could not be inverted"),
        (sme.IterationLimitWarning, False, "stopped at the iteration limit"),
    )


@contextlib.contextmanager
def reissue_fit_warnings(model: str, stacklevel: int = 4,
                         diagnosed: tuple[str, ...] = ()) -> Iterator[list[ConvergenceWarning]]:
    """Re-issue statsmodels' convergence warnings raised inside the block as :class:`ConvergenceWarning`.

    Parameters
    ----------
    model : str
        Name of the model for the message, e.g. ``"rate_regression (poisson)"``.
    stacklevel : int, default 4
        Passed on to :func:`warnings.warn` so that the warning points at the caller of the estimator.
    diagnosed : tuple of str, default ()
        Names of statsmodels warnings (``"ConvergenceWarning"``, ``"PerfectSeparationWarning"``) that the
        caller diagnoses itself after the fit with a more specific warning (naming the term); these are not
        re-issued a second time.

    Yields
    ------
    list of ConvergenceWarning
        Filled, after the block, with the warnings re-issued (empty when the fit was clean), so that the
        caller can record ``converged`` on its result.

    Notes
    -----
    Any other warning raised in the block is passed on unchanged.
    """
    kinds = _statsmodels_kinds()
    issued: list[ConvergenceWarning] = []
    with warnings.catch_warnings(record=True, action="always") as caught:  # re-issued below, never dropped
        yield issued
    seen: set[tuple[type, bool, str]] = set()
    for w in caught:
        kind = next(((c, conv, text) for c, conv, text in kinds if issubclass(w.category, c)), None)
        if kind is None:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
            continue
        if kind in seen or kind[0].__name__ in diagnosed:
            continue
        seen.add(kind)
        warning = ConvergenceWarning(f"{model}: {kind[2]} ({w.message})", converged=kind[1])
        issued.append(warning)
        warnings.warn(warning, stacklevel=stacklevel)

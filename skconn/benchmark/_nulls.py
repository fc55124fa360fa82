"""The job's nulls: drawn (or reused) once per output folder, with their diagnostics.

The one place that turns a configuration into null expression permutations
(:func:`null_permutations`), and that writes what shows them (``null_diagnostics.csv``,
``cge_curve.csv`` and ``cge_distance.png``). :mod:`._tasks` says which repeat scores which
null.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_write
from .._config import BenchmarkConfig
from ..datasets import Connectome

__all__ = ["cge_curve_table", "null_permutations", "write_null_figure"]


def write_null_figure(path: Path, connectome, diagnostics, spins) -> None:
    """CGE-distance curves of the true data against the best and worst nulls."""
    import matplotlib.pyplot as plt

    from ..plotting import plot_cge_curves

    fig = plot_cge_curves(connectome, diagnostics, spins)
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format="png"))
    plt.close(fig)


def cge_curve_table(connectome: Connectome, diagnostics: pd.DataFrame, spins: np.ndarray,
                    kept: np.ndarray, n_show: int = 3) -> pd.DataFrame:
    """The data of ``cge_distance.png``: binned CGE-distance curves and their fits.

    One row per curve and distance bin: the true data, the nulls the figure draws
    (best and worst ``n_show``) and the kept nulls.

    Parameters
    ----------
    connectome : Connectome
    diagnostics : pandas.DataFrame
        Of :func:`skconn.nulls.cge_matched_spins` (with its ``attrs``).
    spins : ndarray of shape (n_spins, R)
        All spins screened.
    kept : ndarray of shape (K, R)
        The nulls kept, null ``k`` in row ``k``.
    n_show : int, default=3

    Returns
    -------
    pandas.DataFrame
        Columns ``curve`` (``"true"`` or ``"null"``), ``spin`` (-1 for the true
        data), ``rank``, ``null_index`` (as in ``folds.csv``; -1 if not kept),
        ``shown`` (``"best"``, ``"worst"`` or ``""``), ``distance`` (bin centre,
        mm), ``mean_cge`` and the fitted curve parameters of the curve.
    """
    from ..nulls import CURVE_PARAMETERS, DistanceBins
    from ..plotting._nulls import shown_nulls

    curve, true = diagnostics.attrs["curve"], diagnostics.attrs["true"]
    centers = np.asarray(curve["centers"], dtype=float)
    best, worst = shown_nulls(diagnostics, n_show)
    null_index = {int(np.flatnonzero((spins == p).all(axis=1))[0]): k for k, p in enumerate(kept)}
    shown = {**{int(i): "worst" for i in worst}, **{int(i): "best" for i in best}}
    chosen = list(dict.fromkeys([*best, *worst, *null_index]))
    bins = DistanceBins.from_distances(connectome.distances())
    means = bins.means(connectome.cge(), spins[chosen]) if chosen else np.empty((0, 0))
    frames = [pd.DataFrame({"curve": "true", "spin": -1, "rank": -1, "null_index": -1,
                            "shown": "", "distance": centers, "mean_cge": curve["means"],
                            **{k: true[k] for k in CURVE_PARAMETERS}})]
    for spin, row in zip(chosen, means, strict=True):
        fit = diagnostics.loc[spin]
        frames.append(pd.DataFrame({
            "curve": "null", "spin": int(spin), "rank": int(fit["rank"]),
            "null_index": null_index.get(int(spin), -1), "shown": shown.get(int(spin), ""),
            "distance": bins.centers, "mean_cge": row,
            **{k: fit[k] for k in CURVE_PARAMETERS}}))
    return pd.concat(frames, ignore_index=True)


def null_permutations(connectome: Connectome, config: BenchmarkConfig, out: Path,
                      reuse: bool) -> np.ndarray | None:
    """The job's nulls; the saved ones only if ``reuse`` (the folder's stamp matched)."""
    if config.nulls == 0:
        return None
    from .._permutations import warn_if_near_identity
    from ..nulls import cge_matched_spins, make_nulls

    cached = out / "nulls.npz"
    if reuse and cached.exists():
        perms = np.load(cached)["permutations"]
        # a folder written before near-identity spins were excluded resumes with its nulls
        warn_if_near_identity(perms, where="the benchmark (cached nulls.npz)", stacklevel=3)
        return perms
    if config.null_kind == "cge_matched":
        perms, diagnostics, spins = cge_matched_spins(
            connectome, n_spins=config.n_spins, k=config.nulls, random_state=config.seed,
            n_jobs=config.n_jobs, return_all=True, selection=config.null_selection,
        )
    else:
        perms, diagnostics = make_nulls(
            connectome, config.nulls, kind=config.null_kind, n_spins=config.n_spins,
            random_state=config.seed, n_jobs=config.n_jobs, return_diagnostics=True,
        )
        spins = None
    diagnostics = diagnostics.assign(null_kind=config.null_kind,
                                     null_selection=config.null_selection)
    atomic_write(out / "null_diagnostics.csv", lambda p: diagnostics.to_csv(p, index=False))
    if spins is not None:
        table = cge_curve_table(connectome, diagnostics, spins, perms)
        atomic_write(out / "cge_curve.csv", lambda p: table.to_csv(p, index=False))
        write_null_figure(out / "cge_distance.png", connectome, diagnostics, spins)
    warn_if_near_identity(perms, where=f"the benchmark ({config.null_kind} nulls)",
                          stacklevel=3)
    # written last: its presence means the nulls (and their figure) are complete
    atomic_write(cached, lambda p: np.savez(p.open("wb"), permutations=perms))
    return perms

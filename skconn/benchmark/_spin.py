"""The main job's classic spin test: ``p_spin`` of the closed-form families on the full data.

Next to the paired null folds (``p_folds``), the job runs the spin test of Alexander-Bloch
et al. (2018) as the paper's Figure 6 does: each family with ``spin_test=True`` in
:data:`~skconn.benchmark.MODELS` is fitted on every pair of the full data and scored on
them, then refitted and scored under many plain spins (:func:`skconn.nulls.make_nulls`
``kind="spin"``: distinct, not near-identity; :func:`skconn.nulls.spin_test`);
``p_spin = (1 + #{null >= observed}) / (n + 1)``. Results are cached per model in
``spin_test/`` (they depend on the data, the seed and the number of spins only, all fixed
for a folder but the number), and written to ``spin_test.csv`` and ``spin_test.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_write
from .._config import BenchmarkConfig
from ..datasets import Connectome
from ..pairs import make_pairs
from ._registry import MODELS, _family, make_model

__all__ = ["spin_model", "spin_test_table", "write_spin_figure"]

#: Columns of ``spin_test.csv``.
SPIN_COLUMNS = ("model", "n_spins", "score", "null_mean", "null_sd", "p_spin", "batched",
                "refit")


def spin_model(name: str, config: BenchmarkConfig, X, y):
    """The estimator the spin test refits for model ``name``, and how it was fixed.

    The family's default estimator (no inner search). A Connectome Model with
    ``alpha="auto"`` is first fitted on the true data and its chosen ``alpha_`` and
    ``penalty_`` are then kept for every null, which is what lets the refits share
    one closed form (:func:`skconn.nulls.spin_test`); the refit string says so.
    """
    from ..models import ConnectomeModelRegressor

    model = make_model(name, config.seed, "cpu", False, config.variants)
    if isinstance(model, ConnectomeModelRegressor) and isinstance(model.alpha, str):
        fitted = model.fit(X, y)
        model = model.set_params(alpha=float(fitted.alpha_), penalty=fitted.penalty_)
        return model, f"alpha={fitted.alpha_:.4g}, penalty={fitted.penalty_} chosen on the data"
    return model, "as the family's defaults"


def _spins(connectome: Connectome, config: BenchmarkConfig) -> np.ndarray:
    from ..nulls import make_nulls

    # plain spins that move the data: near-identity ones (kept out of the nulls) would
    # count as nulls reaching the observed score; twice as many drawn as kept
    return make_nulls(connectome, config.spin_test, kind="spin", n_spins=2 * config.spin_test,
                      random_state=config.seed, n_jobs=config.n_jobs)


def spin_test_table(connectome: Connectome, config: BenchmarkConfig, out: Path,
                    progress: bool = False) -> pd.DataFrame:
    """Run (or read from ``out/spin_test/``) the spin test of every eligible model.

    Parameters
    ----------
    connectome : Connectome
        Every region sampled (or imputed).
    config : BenchmarkConfig
        ``models``, ``variants``, ``seed``, ``n_jobs`` and ``spin_test`` (the number of
        spins; 0 returns an empty table).
    out : Path
        The output folder.
    progress : bool, default=False
        Progress bars of the refits that are not batched.

    Returns
    -------
    pandas.DataFrame
        One row per eligible model, columns :data:`SPIN_COLUMNS`; ``attrs["nulls"]``
        maps each model to its null scores.
    """
    from ..nulls import spin_test

    names = [m for m in config.models if MODELS[_family(m, config.variants)[0]].spin_test]
    table = pd.DataFrame(columns=list(SPIN_COLUMNS))
    table.attrs["nulls"] = {}
    if config.spin_test == 0 or not names:
        return table
    cache = Path(out) / "spin_test"
    cache.mkdir(exist_ok=True)
    X = y = spins = None
    rows = []
    for name in names:
        path = cache / f"{name}__n{config.spin_test}.npz"
        if not path.exists():
            if X is None:
                X, y = make_pairs(connectome)
                spins = _spins(connectome, config)
            model, refit = spin_model(name, config, X, y)
            res = spin_test(model, X, y, spins, n_jobs=config.n_jobs, progress=progress)
            atomic_write(path, lambda p, res=res, refit=refit: np.savez(
                p.open("wb"), score=res.score, null_scores=res.null_scores,
                pvalue=res.pvalue, batched=res.batched, refit=refit))
        saved = np.load(path)
        null = saved["null_scores"]
        table.attrs["nulls"][name] = null
        rows.append({"model": name, "n_spins": len(null), "score": float(saved["score"]),
                     "null_mean": float(np.nanmean(null)), "null_sd": float(np.nanstd(null)),
                     "p_spin": float(saved["pvalue"]), "batched": bool(saved["batched"]),
                     "refit": str(saved["refit"])})
    nulls = table.attrs["nulls"]
    table = pd.DataFrame(rows, columns=list(SPIN_COLUMNS))
    table.attrs["nulls"] = nulls
    return table


def write_spin_figure(path: Path, table: pd.DataFrame) -> None:
    """``spin_test.png``: each model's null distribution and observed score (Figure 6)."""
    import matplotlib.pyplot as plt

    from ..plotting import plot_null_distribution

    n = len(table)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False)
    for ax, (_, row) in zip(axes[0], table.iterrows(), strict=True):
        plot_null_distribution(table.attrs["nulls"][row["model"]], row["score"],
                               pvalue=row["p_spin"], ax=ax,
                               xlabel=f"{row['model']}: Pearson r of the fit on all pairs "
                                      f"({row['n_spins']} spins)")
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=120, bbox_inches="tight", format="png"))
    plt.close(fig)

"""The main job's output folder: stamps, the configuration, model variants and fold files.

A :class:`RunFolder` is the only code that reads or writes the folder's layout:
``fingerprint.txt`` and ``dataset.txt`` (what the folds were computed from),
``variants.json`` (the model variants that ran), ``config.toml``, ``runs/<key>.json``
and ``.npz`` (one finished fold each) and ``folds.csv``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from .._atomic import atomic_write, remove_stale_temp_files
from .._config import BenchmarkConfig
from ..datasets import Connectome
from ._registry import make_model, resolved_params, search_grid

__all__ = ["RunFolder", "dataset_fingerprint"]


def dataset_fingerprint(connectome: Connectome) -> str:
    """Hash of a dataset's content: what the benchmark's folds are computed from.

    Region labels, hemispheres, structures and centroids, gene names, the
    expression and the connectivity (not the name, nor subject-level data).

    Parameters
    ----------
    connectome : Connectome

    Returns
    -------
    str
        16 hexadecimal digits.

    Examples
    --------
    >>> from skconn.benchmark import dataset_fingerprint
    >>> from skconn.datasets import make_toy_connectome
    >>> a, b = make_toy_connectome(20, 4), make_toy_connectome(20, 4, random_state=1)
    >>> dataset_fingerprint(a) == dataset_fingerprint(make_toy_connectome(20, 4))
    True
    >>> dataset_fingerprint(a) == dataset_fingerprint(b)
    False
    """
    digest = hashlib.sha256()

    def add(tag: str, data: bytes) -> None:
        digest.update(f"{tag}:{len(data)}:".encode() + data)

    def text(values) -> bytes:
        return json.dumps([str(v) for v in values]).encode()

    def floats(values) -> bytes:
        return np.ascontiguousarray(values, dtype="<f8").tobytes()

    regions = connectome.regions
    add("labels", text(connectome.labels))
    add("hemisphere", text(regions["hemisphere"]))
    add("structure", text(regions["structure"]))
    add("coords", floats(connectome.coords))
    add("genes", text(connectome.genes))
    add("expression", floats(connectome.expression.to_numpy()))
    add("connectivity", floats(connectome.connectivity))
    return digest.hexdigest()[:16]


class RunFolder:
    """The output folder of one benchmark configuration (see :func:`~skconn.benchmark.run_job`).

    Parameters
    ----------
    path : str or path-like
        The folder (need not exist yet).

    Examples
    --------
    >>> import tempfile
    >>> from skconn.benchmark._store import RunFolder
    >>> folder = RunFolder(tempfile.mkdtemp())
    >>> folder.is_finished("exp_decay__random__r0__f0__observed")
    False
    """

    def __init__(self, path) -> None:
        self.path = Path(path)
        self.runs = self.path / "runs"

    # ------------------------------------------------------------------ stamps
    def check_variants(self, config: BenchmarkConfig) -> dict:
        """The model variants that ran in the folder (``variants.json``); a ValueError if
        one of this run's variants was defined otherwise there (its folds would be reused)."""
        path = self.path / "variants.json"
        stamped = json.loads(path.read_text()) if path.exists() else {}
        for name in config.models:
            if (name in config.variants and name in stamped
                    and stamped[name] != config.variants[name]):
                raise ValueError(
                    f"{self.path} holds folds of model variant {name!r} defined as "
                    f"{stamped[name]}, this run defines it as {config.variants[name]}; give "
                    "the new definition another name (or choose another --output)"
                )
        return stamped

    def check_config(self, config: BenchmarkConfig) -> bool:
        """Refuse a folder stamped by another configuration, naming each option that differs.

        Returns whether the stamp exists (and matches): the folder holds a run of
        this configuration (stamps are written once a run got as far as its folds).
        """
        found = self._stamp("fingerprint.txt")
        if found is None:
            return False
        if found != config.fingerprint():
            differing = self._differing_options(config)
            what = ("; ".join(differing) if differing else
                    f"fingerprint.txt: {found}, this run: {config.fingerprint()}")
            raise ValueError(
                f"{self.path} holds a run with a different configuration ({what}); choose "
                "another --output (or delete the folder) to start a new run"
            )
        return True

    def check_dataset(self, digest: str) -> None:
        """Refuse a folder whose folds were computed on other data."""
        found = self._stamp("dataset.txt")
        if found is not None and found != digest:
            raise ValueError(
                f"{self.path} holds a run on different data (other data than this run's, "
                f"whatever the options: dataset.txt: {found}, this run: {digest}); choose "
                "another --output (or delete the folder) to start a new run"
            )

    def _stamp(self, name: str) -> str | None:
        stamp = self.path / name
        return stamp.read_text().strip() if stamp.exists() else None

    def _differing_options(self, config: BenchmarkConfig) -> list[str]:
        """``"--folds: 3 here, 4 in the folder"`` for each option of the fingerprint that
        differs from the folder's ``config.toml`` (none if it is missing or unreadable)."""
        try:
            stored = BenchmarkConfig.from_toml(self.path / "config.toml")
        except (OSError, ValueError, TypeError):
            return []
        if stored.fingerprint() != self._stamp("fingerprint.txt"):
            return []  # not the configuration of the stamp (edited by hand): say nothing
        mine, theirs = config.fingerprint_fields(), stored.fingerprint_fields()
        defaults = BenchmarkConfig().to_dict()  # an option hashed only off its default
        return [f"--{k.replace('_', '-')}: {mine.get(k, defaults[k])} here, "
                f"{theirs.get(k, defaults[k])} in the folder"
                for k in dict.fromkeys([*mine, *theirs])
                if mine.get(k, defaults[k]) != theirs.get(k, defaults[k])]

    def write_stamps(self, config: BenchmarkConfig, digest: str, stamped: dict) -> None:
        """Mark the folder as this configuration's on this dataset (once it can run folds);
        add this run's model variants to ``stamped``, those already in ``variants.json``."""
        for name, value in (("fingerprint.txt", config.fingerprint()), ("dataset.txt", digest)):
            if not (self.path / name).exists():
                atomic_write(self.path / name, lambda p, v=value: p.write_text(v + "\n"))
        used = {m: config.variants[m] for m in config.models if m in config.variants}
        if used.keys() - stamped.keys():
            stamped.update(used)
            text = json.dumps(stamped, indent=1, sort_keys=True)
            atomic_write(self.path / "variants.json", lambda p: p.write_text(text + "\n"))

    def write_config(self, config: BenchmarkConfig, connectome: Connectome, digest: str,
                     folds: pd.DataFrame | None = None) -> None:
        """``config.toml``: the configuration, package version and resolved options; with
        the per-fold table, also where each model's folds ran (``ran_on_<model>``)."""
        resolved = {
            "version": __version__,
            "dataset": str(connectome.name),
            "n_regions": int(connectome.n_regions),
            "n_genes": int(connectome.n_genes),
            "fingerprint": config.fingerprint(),
            "dataset_fingerprint": digest,
            **{f"params_{m}": json.dumps(resolved_params(
                make_model(m, config.seed, config.device, config.autocast, config.variants)))
               for m in config.models},
            **{f"grid_{m}": json.dumps(search_grid(m, config.variants))
               for m in config.models},
        }
        if folds is not None and "device" in folds:
            # where the folds ran: a folder can be finished on other devices or precisions
            resolved.update({f"ran_on_{m}": sorted(set(folds.loc[folds["model"] == m, "device"]
                                                       .dropna()))
                             for m in config.models})
        atomic_write(self.path / "config.toml",
                     lambda p: p.write_text(config.to_toml(resolved), encoding="utf-8"))

    # ------------------------------------------------------------------ folds
    def prepare(self) -> None:
        """Create ``runs/``; remove temporary files left by a killed run."""
        self.runs.mkdir(parents=True, exist_ok=True)
        for folder in (self.path, self.runs):
            remove_stale_temp_files(folder)

    def is_finished(self, key: str) -> bool:
        return (self.runs / f"{key}.json").exists()

    def save_fold(self, key: str, row: dict, predictions: dict) -> None:
        """Write one finished fold: its predictions, then its row (whose presence marks
        the fold as finished)."""
        atomic_write(self.runs / f"{key}.npz", lambda p: np.savez(p.open("wb"), **predictions))
        atomic_write(self.runs / f"{key}.json",
                     lambda p: p.write_text(json.dumps(row, default=float)))

    def load_row(self, key: str) -> dict:
        return json.loads((self.runs / f"{key}.json").read_text())

    def load_predictions(self, key: str) -> dict:
        with np.load(self.runs / f"{key}.npz") as saved:
            return {name: saved[name] for name in ("pairs", "y_true", "y_pred")}

    def write_folds(self, folds: pd.DataFrame) -> None:
        atomic_write(self.path / "folds.csv", lambda p: folds.to_csv(p, index=False))

    def write_table(self, name: str, write) -> None:
        """Write any other file of the folder atomically: ``write(path)``."""
        atomic_write(self.path / name, write)

    def finished_keys(self, keys: Iterable[str]) -> list[str]:
        return [k for k in keys if self.is_finished(k)]

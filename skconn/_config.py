"""The benchmark's configuration: one object equivalent to the command-line flags."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["BenchmarkConfig"]

_DEFAULT_MODELS = ("exp_decay", "connectome_model", "pls_bilinear", "low_rank")

#: Fields by expected type (``autocast`` is checked on its own).
_INT_FIELDS = ("repeats", "folds", "n_iter", "inner_folds", "nulls", "n_spins", "seed", "n_jobs",
               "spin_test")
_STR_FIELDS = ("data", "search", "device", "output", "null_kind", "null_selection", "unsampled")
_PATH_FIELDS = ("data", "output")
_LIST_FIELDS = ("models", "splits")

#: Fields that do not change a fold's result (see :meth:`BenchmarkConfig.fingerprint`).
_NOT_FINGERPRINTED = ("n_jobs", "output", "device", "autocast", "models", "splits", "variants",
                      "spin_test")

#: Options added after folders existed: hashed only when they differ from their default,
#: so that a folder written before they existed keeps its fingerprint (and resumes).
_FINGERPRINTED_IF_CHANGED = {"null_kind": "cge_matched", "null_selection": "moved",
                             "unsampled": "drop"}

#: Null kinds of the main job (as :data:`skconn.nulls.NULL_KINDS`; not imported: the
#: configuration imports nothing of the library).
_NULL_KINDS = ("cge_matched", "spin", "permute")

#: A variant's name becomes part of file names (``runs/<name>__<split>__...``).
_VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                 "\f": "\\f", "\r": "\\r"}


def _toml_string(text: str) -> str:
    r"""A TOML basic string: UTF-8 kept as is (any plane), only what TOML forbids escaped.

    Examples
    --------
    >>> from skconn._config import _toml_string
    >>> print(_toml_string('say "hi"\t🧠'))
    "say \"hi\"\t🧠"
    """
    out = []
    for char in text:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


@dataclass
class BenchmarkConfig:
    """Everything that defines a ``skconn benchmark`` run.

    Parameters
    ----------
    data : str, default="default"
        ``"default"`` (embedded dataset) or a dataset folder.
    models : list of str
        Model names (see :data:`skconn.benchmark.MODELS`).
    splits : list of {"random", "spatial"}, default=["random"]
        Outer splitters.
    repeats : int, default=3
        Outer repeats (each with new folds, seed ``seed + repeat``).
    folds : int, default=4
        Outer folds per repeat.
    search : {"none", "grid", "random"}, default="none"
        Inner hyperparameter search over each model's default grid.
    n_iter : int, default=5
        Candidates drawn by the random search.
    inner_folds : int, default=3
        Folds of the inner region split (same kind as the outer split).
    nulls : int, default=3
        K CGE-matched spatiomolecular nulls; repeat r is also scored on null
        ``r % K`` (one null per repeat, as published). 0 scores the true data only.
    n_spins : int, default=1000
        Spins screened for the K best CGE-matched nulls.
    seed : int, default=0
    n_jobs : int, default=1
        Parallel folds through joblib; negative as in joblib (-1: every core,
        -2: all but one); not 0.
    device : str, default="auto"
        Device of the neural models.
    autocast : {"auto", True, False}, default="auto"
        bf16 autocast of the neural models: "auto" on CUDA only, True on any
        device (about 2x faster on CPUs with bf16 instructions, e.g. AVX512-BF16,
        and what the published code used on its GPUs), False never.
    output : str, default="skconn-results"
        Output folder.
    null_kind : {"cge_matched", "spin", "permute"}, default="cge_matched"
        Kind of the ``nulls`` (:func:`skconn.nulls.make_nulls`): CGE-matched
        spins that move the data, plain spins (no CGE selection) or random
        permutations of the regions.
    null_selection : {"moved", "published"}, default="moved"
        With ``null_kind="cge_matched"``: ``"moved"`` excludes near-identity
        spins before ranking; ``"published"`` ranks all spins as Ratzan et al.
        (NeurIPS 2025) did, for comparison (on 400 parcels its top nulls can be
        the data shifted by a fraction of a parcel; the job then warns).
    unsampled : {"drop", "impute"}, default="drop"
        Regions without AHBA samples: ``"drop"`` leaves them out of every fold;
        ``"impute"`` keeps them, each model then runs behind a
        :class:`skconn.preprocessing.RegionImputer` that re-imputes them from the
        training regions of each fold (no test region informs a training
        feature), and the nulls are drawn on the connectome imputed from every
        sampled region (:func:`skconn.datasets.impute_missing_regions`; the CGE
        curve is a property of the whole atlas, not fitted to any fold).
    spin_test : int, default=1000
        Spins of the classic spin test (``p_spin`` in the summary, figure
        ``spin_test.png``): the families with a closed form
        (:data:`skconn.benchmark.MODELS` entries with ``spin_test=True``) are
        refitted on the full data under this many plain spins
        (:func:`skconn.nulls.spin_test`). 0 skips it. It does not change the
        folds, so a folder can be resumed with another value.
    variants : dict of str to dict, default={}
        Model variants: a new model name mapped to ``{"model": family, **params}``,
        the family's default estimator with ``set_params(**params)``, e.g.
        ``{"smt_cls_refit": {"model": "smt_cls", "refit_all": True}}``. A variant
        runs when ``models`` names it; its folds are stored under its own name,
        next to the family's. In TOML, a ``[variants.<name>]`` table.

    Examples
    --------
    >>> from skconn.benchmark import BenchmarkConfig
    >>> cfg = BenchmarkConfig(models=["exp_decay"], repeats=2)
    >>> BenchmarkConfig.from_toml_text(cfg.to_toml()) == cfg
    True
    """

    data: str = "default"
    models: list[str] = field(default_factory=lambda: list(_DEFAULT_MODELS))
    splits: list[str] = field(default_factory=lambda: ["random"])
    repeats: int = 3
    folds: int = 4
    search: str = "none"
    n_iter: int = 5
    inner_folds: int = 3
    nulls: int = 3
    n_spins: int = 1000
    seed: int = 0
    n_jobs: int = 1
    device: str = "auto"
    autocast: str | bool = "auto"
    output: str = "skconn-results"
    variants: dict[str, dict] = field(default_factory=dict)
    null_kind: str = "cge_matched"
    null_selection: str = "moved"
    unsampled: str = "drop"
    spin_test: int = 1000

    def __post_init__(self) -> None:
        self._check_types()
        bad = [s for s in self.splits if s not in ("random", "spatial")]
        if bad or not self.splits:
            raise ValueError(f"splits must be among 'random', 'spatial'; got {self.splits}")
        if self.null_kind not in _NULL_KINDS:
            raise ValueError(f"null_kind must be one of {list(_NULL_KINDS)}, "
                             f"got {self.null_kind!r}")
        if self.null_selection not in ("moved", "published"):
            raise ValueError("null_selection must be 'moved' or 'published', "
                             f"got {self.null_selection!r}")
        if self.unsampled not in ("drop", "impute"):
            raise ValueError(f"unsampled must be 'drop' or 'impute', got {self.unsampled!r}")
        if self.spin_test < 0:
            raise ValueError(f"spin_test must be >= 0 (0: no spin test), got {self.spin_test}")
        if self.search not in ("none", "grid", "random"):
            raise ValueError(f"search must be 'none', 'grid' or 'random', got {self.search!r}")
        for name in ("repeats", "n_iter", "n_spins"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_jobs == 0:
            raise ValueError("n_jobs must not be 0: a number of parallel jobs, or negative "
                             "as in joblib (-1: every core, -2: all but one, ...)")
        if self.folds < 2 or self.inner_folds < 2:
            raise ValueError(f"folds and inner_folds must be >= 2, got {self.folds}, "
                             f"{self.inner_folds}")
        if self.nulls < 0:
            raise ValueError(f"nulls must be >= 0, got {self.nulls}")
        if not self.models:
            raise ValueError("models must name at least one model")
        if not (isinstance(self.autocast, bool) or self.autocast == "auto"):
            raise ValueError(f"autocast must be 'auto', true or false, got {self.autocast!r}")

    def _check_types(self) -> None:
        """Each field of its type (a TypeError naming the key), normalised in place.

        Integers: any integral number but a bool, stored as ``int``; ``data`` and
        ``output``: a string or path, stored as ``str``; ``models`` and ``splits``:
        a list or tuple of strings, stored as a list.
        """
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an integer, got {value!r} "
                                f"({type(value).__name__})")
            setattr(self, name, int(value))
        for name in _STR_FIELDS:
            value = getattr(self, name)
            if name in _PATH_FIELDS and isinstance(value, os.PathLike):
                value = os.fspath(value)
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string, got {value!r} "
                                f"({type(value).__name__})")
            setattr(self, name, value)
        for name in _LIST_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"{name} must be a list of strings, got {value!r} "
                                f"({type(value).__name__})")
            setattr(self, name, list(value))
        self._check_variants()

    def _check_variants(self) -> None:
        if not isinstance(self.variants, dict):
            raise TypeError("variants must be a table (dict) of model name -> "
                            f"{{model = family, parameter = value, ...}}, got {self.variants!r}")
        for name, spec in self.variants.items():
            if not isinstance(name, str) or not _VARIANT_NAME.fullmatch(name) or "__" in name:
                raise ValueError(f"variant name {name!r} must be letters, digits, '_', '.' or "
                                 "'-' (starting with a letter or digit, no '__')")
            if not isinstance(spec, dict) or not isinstance(spec.get("model"), str):
                raise TypeError(f"variant {name!r} must be a table with a 'model' key naming "
                                f"the model family it changes, got {spec!r}")
            for key, value in spec.items():
                try:
                    _toml_value(value)
                except TypeError:
                    raise TypeError(f"variant {name!r}: {key} = {value!r} is not a number, "
                                    "string, bool or list of them") from None
        self.variants = {name: dict(spec) for name, spec in self.variants.items()}

    # ------------------------------------------------------------------ (de)serialising
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_toml(self, extra: dict | None = None) -> str:
        """TOML text of the configuration (plus an ``[run]`` table of extra facts)."""
        values = self.to_dict()
        variants = values.pop("variants")
        lines = [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        for name, spec in variants.items():
            lines.append("")
            lines.append(f"[variants.{_toml_string(name)}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in spec.items())
        if extra:
            lines.append("")
            lines.append("[run]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in extra.items())
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml_text(cls, text: str) -> BenchmarkConfig:
        values = tomllib.loads(text)
        values.pop("run", None)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown configuration key(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path) -> BenchmarkConfig:
        """Read a configuration file written by :meth:`to_toml` (or by hand)."""
        return cls.from_toml_text(Path(path).read_text(encoding="utf-8"))

    def fingerprint(self) -> str:
        """Hash of what determines each fold's result.

        Not ``n_jobs`` or ``output``; not ``device`` or ``autocast``, which
        change the neural models' results at the level of floating-point precision
        (``device="auto"`` already trains in bf16 on CUDA, fp32 on CPU), so that one
        folder can be finished on other machines (each fold records where and in
        which precision it ran, column ``device``); nor ``models`` and ``splits``: a
        fold's result is stored under its model and split, so one output folder can
        take more models or splits later (separate jobs per model, say) and reuse the
        folds already finished; nor ``variants``: the folder records each variant
        that ran in it and refuses another definition under the same name.
        """
        relevant = self.fingerprint_fields()
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]

    def fingerprint_fields(self) -> dict:
        """The options :meth:`fingerprint` hashes, by name (every field but those of
        ``_NOT_FINGERPRINTED``; ``null_kind``, ``null_selection`` and ``unsampled``
        only when they differ from their defaults, so that folders written before these options
        existed keep their fingerprint and resume with their cached nulls).

        Examples
        --------
        >>> from skconn.benchmark import BenchmarkConfig
        >>> sorted(BenchmarkConfig().fingerprint_fields())  # doctest: +NORMALIZE_WHITESPACE
        ['data', 'folds', 'inner_folds', 'n_iter', 'n_spins', 'nulls', 'repeats', 'search',
         'seed']
        """
        return {k: v for k, v in self.to_dict().items() if k not in _NOT_FINGERPRINTED
                and not (k in _FINGERPRINTED_IF_CHANGED and v == _FINGERPRINTED_IF_CHANGED[k])}

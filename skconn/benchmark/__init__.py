"""The main job: nested region-level cross-validation of several models on one dataset.

Modules, one job each: ``_registry`` (model families, their grids and resolved
parameters), ``_tasks`` (one :class:`~skconn.benchmark._tasks.FoldTask` per fit),
``_nulls`` (the job's null permutations and their figure), ``_store`` (the output
folder) and ``_job`` (:func:`run_benchmark`, :func:`run_job`). Summaries live in
:mod:`skconn.metrics._summary`, where the figures and the command line read them too.
"""

from .._config import BenchmarkConfig
from ..metrics._summary import format_summary, summarize
from ._job import load_dataset, run_benchmark, run_job
from ._registry import MODELS, ModelSpec, make_model, resolved_params
from ._store import dataset_fingerprint

# importable here as they were from the single-module benchmark (tests, scripts)
from ..metrics._summary import SHOWN_METRICS  # noqa: F401  isort: skip
from ._nulls import cge_curve_table, write_null_figure  # noqa: F401
from ._registry import ran_on as _ran_on  # noqa: F401
from ._store import RunFolder  # noqa: F401
from ._tasks import OBSERVED, SPIN_NULL, FoldTask  # noqa: F401

__all__ = [
    "MODELS",
    "BenchmarkConfig",
    "ModelSpec",
    "dataset_fingerprint",
    "format_summary",
    "load_dataset",
    "make_model",
    "resolved_params",
    "run_benchmark",
    "run_job",
    "summarize",
]

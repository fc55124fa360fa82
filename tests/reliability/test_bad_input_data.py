"""Bad input for the data layer: Connectome, load/save, pairs and metrics.

Every generated call either works - and the answer is then checked (finite, right
shapes, nothing silently NaN) - or raises ``ValueError``/``TypeError`` naming the
argument at fault (see ``_outcomes.attempt``). Malformed values are applied to a
small valid base: a toy connectome and a real 10-region slice of hcp_schaefer100.

Two deliberate exceptions to "ValueError or TypeError":

* ``load_connectome`` on a missing folder or file raises ``FileNotFoundError``
  naming the file (the ``OSError`` every Python reader raises).
* ``RegionPairs[key]`` follows numpy: ``IndexError`` for an index out of range, a
  boolean mask of the wrong length or non-integer values (sequence protocol,
  iteration relies on it), ``TypeError`` for a key that is not a row index.

``pearson_r`` of constant input is NaN without a warning, as documented (and
tested in ``tests/metrics``): the distance strata and scorers call it on
degenerate folds, and scikit-learn's search already warns about non-finite scores.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skconn.datasets import (
    Connectome,
    gene_order,
    impute_missing_regions,
    load_connectome,
    make_toy_connectome,
    save_connectome,
    subject_connectivity_from_upper,
    subject_upper_triangles,
)
from skconn.metrics import (
    distance_stratified_r,
    pearson_r,
    score_report,
    spearman_r,
    strength_stratified_r,
    unordered,
)
from skconn.pairs import RegionPairs, make_pairs, pair_indices

from ..conftest import SHARED_DATA
from ._outcomes import OUTCOMES, Rejected, accepted_or_rejected, attempt

# ---------------------------------------------------------------------- valid bases


@functools.cache
def _real_slice() -> Connectome:
    """10 real regions (cortex and subcortex) x 12 genes of hcp_schaefer100."""
    full = load_connectome(SHARED_DATA / "hcp_schaefer100")
    idx = np.r_[np.arange(0, 100, 20), np.arange(100, 114, 3)]
    sub = full.subset(idx)
    return Connectome(sub.regions, sub.expression.iloc[:, :12], sub.connectivity, name="real10")


@functools.cache
def _toy() -> Connectome:
    return make_toy_connectome(6, 4, random_state=0)


_BASES = st.sampled_from(["toy", "real"])


def _base(which: str) -> Connectome:
    return _toy() if which == "toy" else _real_slice()


def _parts(which: str):
    """Fresh, independently mutable (regions, expression, connectivity) of a base."""
    c = _base(which)
    return c.regions.copy(), c.expression.copy(), c.connectivity.copy()


_BAD_SCALARS = st.sampled_from([np.nan, np.inf, -np.inf, "abc", None])
_NAMES = {
    "Connectome": ["regions", "expression", "connectivity", "subject_connectivity", "values",
                   "mask"],
}


def assert_sane_connectome(c: Connectome) -> None:
    """What every accepted Connectome guarantees."""
    n = c.n_regions
    assert n >= 2
    assert list(c.regions.columns) == ["label", "hemisphere", "structure", "x", "y", "z"]
    assert c.labels.is_unique
    assert np.isfinite(c.coords).all() and c.coords.shape == (n, 3)
    assert set(c.regions.hemisphere) <= {"L", "R", "B"}
    assert set(c.regions.structure) <= {"cortex", "subcortex"}
    assert c.connectivity.shape == (n, n) and c.connectivity.dtype == float
    assert np.isfinite(c.connectivity).all()
    np.testing.assert_array_equal(c.connectivity, c.connectivity.T)
    values = c.expression.to_numpy()
    assert values.shape == (n, c.n_genes) and c.n_genes >= 1
    assert c.genes.is_unique
    assert list(c.expression.index) == list(c.labels)
    assert not np.isinf(values).any()
    nan = np.isnan(values)
    assert (nan.all(axis=1) | ~nan.any(axis=1)).all()
    if c.subject_connectivity is not None:
        s = c.subject_connectivity
        assert s.ndim == 3 and s.shape[1:] == (n, n) and not np.isinf(s).any()


def _connectome(regions, expression, connectivity, **kw):
    ok, out = accepted_or_rejected("Connectome", Connectome, regions, expression, connectivity,
                                   names=_NAMES["Connectome"], **kw)
    if ok:
        assert_sane_connectome(out)
    return ok, out


# ---------------------------------------------------------------------- Connectome: regions


@st.composite
def _regions_corruption(draw):
    which = draw(_BASES)
    regions, expression, fc = _parts(which)
    n = len(regions)
    kind = draw(st.sampled_from([
        "not_frame", "drop_column", "duplicate_label", "nan_label", "bad_hemisphere",
        "bad_structure", "bad_coord", "one_region", "no_region", "duplicate_column",
        "int_labels", "object_coords", "shuffled_index",
    ]))
    row = draw(st.integers(0, n - 1))
    if kind == "not_frame":
        regions = draw(st.sampled_from([regions.to_numpy(), regions.to_dict("list"), None]))
    elif kind == "drop_column":
        regions = regions.drop(columns=draw(st.sampled_from(list(regions.columns))))
    elif kind == "duplicate_label":
        other = (row + draw(st.integers(1, n - 1))) % n
        regions.loc[row, "label"] = regions.loc[other, "label"]
    elif kind == "nan_label":
        regions["label"] = regions["label"].astype(object)
        regions.loc[row, "label"] = np.nan
    elif kind == "bad_hemisphere":
        regions["hemisphere"] = regions["hemisphere"].astype(object)
        regions.loc[row, "hemisphere"] = draw(st.sampled_from(["X", "up", None, np.nan, 3]))
    elif kind == "bad_structure":
        regions["structure"] = regions["structure"].astype(object)
        regions.loc[row, "structure"] = draw(st.sampled_from(["cerebellum", None, np.nan, 0]))
    elif kind == "bad_coord":
        col = draw(st.sampled_from(["x", "y", "z"]))
        regions[col] = regions[col].astype(object)
        regions.loc[row, col] = draw(_BAD_SCALARS)
    elif kind == "one_region":
        regions, expression, fc = regions.iloc[:1], expression.iloc[:1], fc[:1, :1]
    elif kind == "no_region":
        regions, expression, fc = regions.iloc[:0], expression.iloc[:0], fc[:0, :0]
    elif kind == "duplicate_column":
        col = draw(st.sampled_from(list(regions.columns)))
        regions = pd.concat([regions, regions[[col]]], axis=1)
    elif kind == "int_labels":
        regions["label"] = np.arange(n)
        expression = expression.reset_index(drop=True)
    elif kind == "object_coords":
        regions[["x", "y", "z"]] = regions[["x", "y", "z"]].astype(str)
    elif kind == "shuffled_index":
        regions.index = draw(st.permutations(range(n)))
    return kind, regions, expression, fc


@given(case=_regions_corruption())
def test_connectome_bad_regions(case):
    kind, regions, expression, fc = case
    ok, out = _connectome(regions, expression, fc)
    if kind in ("not_frame", "drop_column", "duplicate_label", "bad_hemisphere",
                "bad_structure", "one_region", "no_region", "duplicate_column"):
        assert not ok, f"{kind} was accepted"
    if kind == "bad_coord":
        assert not ok
    if kind in ("int_labels", "object_coords", "shuffled_index"):
        assert ok, f"{kind} was rejected: {out}"
        np.testing.assert_allclose(out.coords, regions[["x", "y", "z"]].to_numpy(dtype=float))


# ---------------------------------------------------------------------- Connectome: expression


@st.composite
def _expression_corruption(draw):
    which = draw(_BASES)
    regions, expression, fc = _parts(which)
    n, g = expression.shape
    kind = draw(st.sampled_from([
        "not_frame", "drop_row", "extra_row", "no_genes", "bad_cell", "nan_row",
        "relabel_row", "permuted_rows", "duplicate_gene", "string_column", "int_genes",
        "range_index",
    ]))
    row, col = draw(st.integers(0, n - 1)), draw(st.integers(0, g - 1))
    if kind == "not_frame":
        expression = draw(st.sampled_from([expression.to_numpy(), None, [[1.0]]]))
    elif kind == "drop_row":
        expression = expression.drop(index=expression.index[row])
    elif kind == "extra_row":
        expression = pd.concat([expression, expression.iloc[[row]].rename(index=lambda s: "new")])
    elif kind == "no_genes":
        expression = expression.iloc[:, :0]
    elif kind == "bad_cell":
        expression = expression.astype(object)
        expression.iloc[row, col] = draw(st.sampled_from([np.inf, -np.inf, "abc"]))
        if g == 1:  # a lone NaN cell would be a whole unsampled row
            expression.iloc[row, col] = np.inf
    elif kind == "nan_row":
        expression.iloc[row, :] = np.nan
    elif kind == "relabel_row":
        expression = expression.rename(index={expression.index[row]: "not_a_region"})
    elif kind == "permuted_rows":
        expression = expression.iloc[draw(st.permutations(range(n)))]
    elif kind == "duplicate_gene":
        expression.columns = [expression.columns[0]] * g if g > 1 else expression.columns
        expression = pd.concat([expression, expression.iloc[:, :1]], axis=1)
    elif kind == "string_column":
        expression[expression.columns[col]] = "high"
    elif kind == "int_genes":
        expression.columns = np.arange(g)
    elif kind == "range_index":
        expression = expression.reset_index(drop=True)
    return kind, regions, expression, fc


@given(case=_expression_corruption())
def test_connectome_bad_expression(case):
    kind, regions, expression, fc = case
    ok, out = _connectome(regions, expression, fc)
    if kind in ("not_frame", "drop_row", "extra_row", "no_genes", "bad_cell", "relabel_row",
                "duplicate_gene", "string_column"):
        assert not ok, f"{kind} was accepted"
    if kind in ("nan_row", "permuted_rows", "int_genes", "range_index"):
        assert ok, f"{kind} was rejected: {out}"
        # rows follow the labels, whatever order they came in
        labelled = expression.set_axis(out.labels, axis=0) if kind == "range_index" else expression
        np.testing.assert_array_equal(
            out.expression.to_numpy(), labelled.loc[out.labels].to_numpy(dtype=float)
        )
    if kind == "nan_row":
        assert (~out.sampled).sum() == 1


# ---------------------------------------------------------------------- Connectome: FC


@st.composite
def _connectivity_corruption(draw):
    which = draw(_BASES)
    regions, expression, fc = _parts(which)
    n = len(fc)
    kind = draw(st.sampled_from([
        "non_square", "too_small", "one_d", "three_d", "bad_value", "asymmetric", "strings",
        "frame_wrong_labels", "frame_right_labels", "ragged", "tiny_asymmetry", "int_dtype",
        "random",
    ]))
    i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
    if kind == "non_square":
        fc = fc[:, :-1]
    elif kind == "too_small":
        fc = fc[:-1, :-1]
    elif kind == "one_d":
        fc = fc.ravel()
    elif kind == "three_d":
        fc = fc[None]
    elif kind == "bad_value":
        if i == j:  # a non-finite diagonal is accepted (set to 0): no model uses it
            j = (i + 1) % n
        fc[i, j] = fc[j, i] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif kind == "asymmetric":
        if i == j:
            j = (i + 1) % n
        fc[i, j] += draw(st.floats(1e-3, 10.0))
    elif kind == "strings":
        fc = fc.astype(str)
        fc[i, j] = fc[j, i] = "strong"
    elif kind == "frame_wrong_labels":
        labels = list(regions["label"])
        labels[i] = "not_a_region"
        fc = pd.DataFrame(fc, index=labels, columns=labels)
    elif kind == "frame_right_labels":
        fc = pd.DataFrame(fc, index=regions["label"], columns=regions["label"])
    elif kind == "ragged":
        fc = [list(r) for r in fc]
        fc[i] = fc[i][:-1]
    elif kind == "tiny_asymmetry":
        fc[i, j] += 1e-12
    elif kind == "int_dtype":
        fc = np.eye(n, dtype=int)
    elif kind == "random":
        fc = draw(hnp.arrays(float, (n, n),
                             elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan))))
    return kind, regions, expression, fc


@given(case=_connectivity_corruption())
def test_connectome_bad_connectivity(case):
    kind, regions, expression, fc = case
    ok, out = _connectome(regions, expression, fc)
    if kind in ("non_square", "too_small", "one_d", "three_d", "bad_value", "asymmetric",
                "strings", "frame_wrong_labels", "ragged"):
        assert not ok, f"{kind} was accepted"
    if kind in ("frame_right_labels", "tiny_asymmetry", "int_dtype"):
        assert ok, f"{kind} was rejected: {out}"
        np.testing.assert_allclose(out.connectivity, np.asarray(fc, dtype=float), atol=1e-10)


@st.composite
def _subject_corruption(draw):
    which = draw(_BASES)
    regions, expression, fc = _parts(which)
    n = len(fc)
    s = draw(st.integers(1, 3))
    sfc = np.repeat(fc[None], s, axis=0)
    kind = draw(st.sampled_from([
        "valid", "missing_edge", "inf", "asymmetric", "wrong_regions", "two_d", "no_subject",
        "tuple_valid", "tuple_bad_mask", "tuple_three", "tuple_bad_columns", "strings",
    ]))
    i = draw(st.integers(0, n - 2))
    if kind == "missing_edge":
        sfc[0, i, i + 1] = sfc[0, i + 1, i] = np.nan
    elif kind == "inf":
        sfc[0, i, i + 1] = sfc[0, i + 1, i] = np.inf
    elif kind == "asymmetric":
        sfc[-1, i, i + 1] += 1.0
    elif kind == "wrong_regions":
        sfc = sfc[:, :-1, :-1]
    elif kind == "two_d":
        sfc = sfc[0]
    elif kind == "no_subject":
        sfc = sfc[:0]
    elif kind.startswith("tuple"):
        upper, mask = subject_upper_triangles(sfc)
        if kind == "tuple_bad_mask":
            mask = mask[:, :-1]
        elif kind == "tuple_three":
            sfc = (upper, mask, mask)
        elif kind == "tuple_bad_columns":
            upper, mask = upper[:, :-1], mask[:, :-1]
        if kind != "tuple_three":
            sfc = (upper, mask)
    elif kind == "strings":
        sfc = sfc.astype(str)
        sfc[0, 0, 0] = "x"
    return kind, regions, expression, fc, sfc


@given(case=_subject_corruption())
def test_connectome_bad_subject_connectivity(case):
    kind, regions, expression, fc, sfc = case
    ok, out = _connectome(regions, expression, fc, subject_connectivity=sfc)
    assert ok == (kind in ("valid", "missing_edge", "tuple_valid")), f"{kind}: {out}"
    if ok:
        assert out.subject_connectivity.shape[1:] == fc.shape


# ---------------------------------------------------------------------- Connectome.subset

_SUBSET_KEYS = st.one_of(
    st.lists(st.integers(-12, 15), max_size=8),
    st.lists(st.sampled_from([f"region_{k}" for k in range(8)]), max_size=6),
    hnp.arrays(bool, st.integers(0, 8)),
    st.lists(st.one_of(st.floats(-2, 8), st.just(np.nan)), min_size=1, max_size=4),
    st.sampled_from([None, "region_0", 3, 2.5, [[0, 1], [2, 3]], [0, "region_1"], [True, 1]]),
)


@given(key=_SUBSET_KEYS)
def test_connectome_subset_bad_regions(key):
    c = _toy()
    ok, out = accepted_or_rejected("Connectome.subset", c.subset, key, names=["regions"])
    if not ok:
        return
    assert_sane_connectome(out)
    arr = np.asarray(key)
    if arr.dtype == bool:
        expected = c.labels[arr]
    elif arr.dtype.kind in "iu":
        assert ((arr >= 0) & (arr < c.n_regions)).all()
        expected = c.labels[arr]
    else:
        expected = pd.Index(arr.astype(str))
    assert list(out.labels) == list(expected)
    np.testing.assert_array_equal(
        out.connectivity, c.connectivity[np.ix_(c.labels.get_indexer(expected),
                                                c.labels.get_indexer(expected))]
    )


# ---------------------------------------------------------------------- load_connectome


def _write(folder: Path, which: str) -> Connectome:
    c = _base(which)
    save_connectome(c, folder)
    return c


_FILES = ("regions.csv", "expression.csv.gz", "connectivity.csv.gz")


def _rewrite_csv(path: Path, edit) -> None:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    edited = edit(table)
    (table if edited is None else edited).to_csv(path, index=False)


@st.composite
def _folder_corruption(draw):
    kind = draw(st.sampled_from([
        "empty_file", "garbage", "not_gzip", "drop_regions_column", "drop_label_column",
        "relabel_connectivity", "relabel_expression", "nan_connectivity", "asymmetric",
        "text_in_expression", "extra_region", "subject_wrong_shape", "subject_pickled",
        "subject_garbage", "nan_expression_row", "swap_expression_rows", "valid",
    ]))
    return (kind, draw(_BASES), draw(st.sampled_from(_FILES)), draw(st.integers(0, 4)),
            draw(st.integers(1, 4)))


@given(case=_folder_corruption())
def test_load_connectome_malformed_folder(case):
    kind, which, file, row, col = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        c = _write(folder, which)
        path = folder / file
        if kind == "empty_file":
            path.write_bytes(b"")
        elif kind == "garbage":
            path.write_bytes(b"\x00\xff garbage \x01" * 7)
        elif kind == "not_gzip":
            (folder / "expression.csv.gz").write_text("label,G1\nx,1\n")
        elif kind == "drop_regions_column":
            _rewrite_csv(folder / "regions.csv", lambda t: t.drop(columns=t.columns[col]))
        elif kind == "drop_label_column":
            _rewrite_csv(folder / "expression.csv.gz", lambda t: t.drop(columns="label"))
        elif kind == "relabel_connectivity":
            _rewrite_csv(folder / "connectivity.csv.gz",
                         lambda t: t.rename(columns={t.columns[col]: "nope"}))
        elif kind == "relabel_expression":
            _rewrite_csv(folder / "expression.csv.gz",
                         lambda t: t.__setitem__("label", t["label"].replace(t["label"][row],
                                                                             "nope")))
        elif kind == "nan_connectivity":
            _rewrite_csv(folder / "connectivity.csv.gz",
                         lambda t: t.iloc.__setitem__((row, col), ""))
        elif kind == "asymmetric":
            _rewrite_csv(folder / "connectivity.csv.gz",
                         lambda t: t.iloc.__setitem__((row, 1 + (row + col) % len(t)), "9.5"))
        elif kind == "text_in_expression":
            _rewrite_csv(folder / "expression.csv.gz", lambda t: t.iloc.__setitem__((row, 1),
                                                                                    "high"))
        elif kind == "extra_region":
            _rewrite_csv(folder / "regions.csv",
                         lambda t: t.loc.__setitem__(len(t), ["extra", "L", "cortex", "1", "2",
                                                              "3"]))
        elif kind == "subject_wrong_shape":
            np.save(folder / "subject_connectivity.npy", np.zeros((2, 3, 3)))
        elif kind == "subject_pickled":
            np.save(folder / "subject_connectivity.npy", np.array([{"a": 1}], dtype=object))
        elif kind == "subject_garbage":
            (folder / "subject_connectivity.npy").write_bytes(b"not numpy")
        elif kind == "nan_expression_row":
            _rewrite_csv(folder / "expression.csv.gz",
                         lambda t: t.iloc.__setitem__((row, slice(1, None)), ""))
        elif kind == "swap_expression_rows":
            _rewrite_csv(folder / "expression.csv.gz",
                         lambda t: t.__setitem__(slice(None), t.iloc[::-1].to_numpy()))
        names = ["regions", "expression", "connectivity", "subject_connectivity", *_FILES]
        ok, out = accepted_or_rejected("load_connectome", load_connectome, folder, names=names)
    if ok:
        assert_sane_connectome(out)
        if kind in ("valid", "swap_expression_rows"):
            assert out == Connectome(c.regions, c.expression, c.connectivity, name=out.name)
        if kind == "nan_expression_row":
            assert (~out.sampled).sum() == 1
    should_work = ("valid", "swap_expression_rows", "nan_expression_row")
    assert ok == (kind in should_work), (kind, out)


@pytest.mark.parametrize("file", [*_FILES, None])
def test_load_connectome_missing_file_names_it(tmp_path, file):
    _write(tmp_path, "toy")
    if file is None:
        target, expected = tmp_path / "absent", "absent"
    else:
        (tmp_path / file).unlink()
        target, expected = tmp_path, file
    with pytest.raises(FileNotFoundError, match=expected):
        load_connectome(target)
    OUTCOMES[("load_connectome", "FileNotFoundError")] += 1


@pytest.mark.parametrize("path", [None, 3, ["a"]])
def test_load_and_save_reject_non_paths(path):
    for target, func, args in (("load_connectome", load_connectome, (path,)),
                               ("save_connectome", save_connectome, (_toy(), path))):
        with pytest.raises(Rejected) as rejected:
            attempt(target, func, *args, names=["path"])
        assert isinstance(rejected.value.error, TypeError)


# ---------------------------------------------------------------------- other datasets functions


@given(n_regions=st.one_of(st.integers(-2, 4), st.sampled_from([2.5, "4", None])),
       n_genes=st.one_of(st.integers(-1, 3), st.sampled_from([1.5, None])))
def test_make_toy_connectome_bad_sizes(n_regions, n_genes):
    ok, out = accepted_or_rejected("make_toy_connectome", make_toy_connectome, n_regions,
                                   n_genes, names=["n_regions", "n_genes"])
    valid = (isinstance(n_regions, int) and n_regions >= 2 and isinstance(n_genes, int)
             and n_genes >= 1)
    assert ok == valid
    if ok:
        assert_sane_connectome(out)
        assert (out.n_regions, out.n_genes) == (n_regions, n_genes)


@given(which=_BASES, unsampled=st.sets(st.integers(0, 5), max_size=6),
       method=st.sampled_from(["nearest", "mirror", "mirror_nearest", "bogus", None]),
       k=st.one_of(st.integers(-1, 12), st.sampled_from([1.5, True, "3"])))
def test_impute_missing_regions_bad_input(which, unsampled, method, k):
    c = _base(which)
    expression = c.expression.copy()
    expression.iloc[sorted(unsampled)] = np.nan
    c = Connectome(c.regions, expression, c.connectivity)
    ok, out = accepted_or_rejected("impute_missing_regions", impute_missing_regions, c,
                                   method, k, names=["method", "k", "expression"])
    valid = (method in ("nearest", "mirror", "mirror_nearest") and type(k) is int and k >= 1
             and len(unsampled) < c.n_regions)
    assert ok == valid
    if ok:
        assert out.sampled.all() and np.isfinite(out.expression.to_numpy()).all()
        kept = c.sampled
        np.testing.assert_array_equal(out.expression.to_numpy()[kept],
                                      c.expression.to_numpy()[kept])


@given(values=hnp.arrays(float, hnp.array_shapes(min_dims=1, max_dims=3, max_side=7),
                         elements=st.floats(allow_nan=True, allow_infinity=True)),
       diagonal=st.sampled_from([np.nan, 1.0, 0, "abc", None]))
def test_subject_connectivity_from_upper_bad_input(values, diagonal):
    ok, out = accepted_or_rejected("subject_connectivity_from_upper",
                                   subject_connectivity_from_upper, values,
                                   diagonal=diagonal, names=["values", "mask", "diagonal"])
    if ok:
        s, p = values.shape
        r = out.shape[1]
        assert out.shape == (s, r, r) and r * (r - 1) // 2 == p and r >= 2
        assert not np.isinf(out).any()
        i, j = np.triu_indices(r, k=1)
        np.testing.assert_array_equal(out[:, i, j], values)
        np.testing.assert_array_equal(out, np.swapaxes(out, 1, 2))


@given(sfc=st.one_of(
    hnp.arrays(float, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5),
               elements=st.one_of(st.floats(-2, 2), st.just(np.nan))),
    st.sampled_from([None, "abc", [[[1, 2], [3]]]]),
))
def test_subject_upper_triangles_bad_input(sfc):
    if isinstance(sfc, np.ndarray) and sfc.ndim == 3 and sfc.shape[1] == sfc.shape[2]:
        sfc = (sfc + np.swapaxes(sfc, 1, 2)) / 2 if sfc.shape[0] % 2 else sfc
    ok, out = accepted_or_rejected("subject_upper_triangles", subject_upper_triangles, sfc,
                                   names=["subject_connectivity"])
    if ok:
        values, mask = out
        arr = np.asarray(sfc, dtype=float)
        np.testing.assert_array_equal(arr, np.swapaxes(arr, 1, 2))
        assert values.shape == mask.shape and np.isfinite(values).all()
        if arr.shape[1] < 2:
            assert values.shape == (len(arr), 0)
            return
        back = subject_connectivity_from_upper(values, mask)
        i, j = np.triu_indices(arr.shape[1], k=1)
        np.testing.assert_array_equal(back[:, i, j], arr[:, i, j])


@given(method=st.one_of(
    st.sampled_from(["tss", "expression", "random", "bogus", None, 3.5]),
    st.lists(st.integers(-1, 4), max_size=5),
    st.lists(st.sampled_from(["GAD1", "SST", "PVALB", "NOPE", "X"]), max_size=5),
), with_expression=st.booleans(), genes=st.sampled_from([
    ["GAD1", "SST", "PVALB", "X"], [], ["GAD1", "GAD1", "SST", "X"],
]))
def test_gene_order_bad_input(method, with_expression, genes):
    expression = np.arange(2.0 * len(genes)).reshape(2, -1) if with_expression else None
    ok, out = accepted_or_rejected("gene_order", gene_order, genes, method,
                                   expression=expression, random_state=0,
                                   names=["method", "genes", "expression", "order"])
    if ok:
        assert sorted(out.tolist()) == list(range(len(genes)))


# ---------------------------------------------------------------------- make_pairs


@st.composite
def _make_pairs_case(draw):
    which = draw(_BASES)
    c = _base(which)
    n = c.n_regions
    unsampled = draw(st.sets(st.integers(0, n - 1), max_size=n))
    if unsampled:
        expression = c.expression.copy()
        expression.iloc[sorted(unsampled)] = np.nan
        c = Connectome(c.regions, expression, c.connectivity)
    nulls = draw(st.one_of(
        st.none(),
        st.lists(st.permutations(range(n)), min_size=1, max_size=3),
        hnp.arrays(st.sampled_from([np.int64, np.float64]), st.tuples(
            st.integers(0, 3), st.sampled_from([n, n - 1, n + 1])), elements=st.integers(-1, n)),
        st.sampled_from(["abc", 5, [[0, 1], [1]], [], np.arange(n), np.ones((1, n), bool)]),
    ))
    order = draw(st.sampled_from(["both", "upper", "lower", None]))
    missing = draw(st.sampled_from(["drop", "impute", "raise", "ignore"]))
    return c, unsampled, nulls, order, missing


@given(case=_make_pairs_case())
def test_make_pairs_bad_input(case):
    c, unsampled, nulls, order, missing = case
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropping unsampled regions warns
        ok, out = accepted_or_rejected("make_pairs", make_pairs, c, order=order, nulls=nulls,
                                       missing=missing,
                                       names=["nulls", "order", "missing", "regions",
                                              "connectome", "expression"])
    if not ok:
        assert order not in ("both", "upper") or missing not in ("drop", "impute", "raise") \
            or nulls is not None or unsampled, out
        return
    X, y = out
    assert isinstance(X, RegionPairs) and y.shape == (len(X),) and np.isfinite(y).all()
    n = X.n_regions
    assert n >= 2 and np.isfinite(X.region_features()).all() and np.isfinite(X.coords).all()
    per_variant = n * (n - 1) // (2 if order == "upper" else 1)
    assert len(X) == per_variant * X.n_variants
    assert (X.pairs[:, 0] != X.pairs[:, 1]).all()
    if missing == "drop":
        assert n == c.n_regions - len(unsampled)
    variants = X.variants
    assert (np.sort(variants, axis=1) == np.arange(n)).all()
    # targets are the connectivity of the kept regions, whatever the variant
    kept = c.labels.get_indexer(X.labels)
    np.testing.assert_array_equal(y, c.connectivity[kept[X.pairs[:, 0]], kept[X.pairs[:, 1]]])


@given(n=st.one_of(st.integers(-3, 5), st.sampled_from([2.5, "4", None, np.int64(3)])),
       order=st.sampled_from(["both", "upper", "x"]))
def test_pair_indices_bad_input(n, order):
    ok, out = accepted_or_rejected("pair_indices", pair_indices, n, order,
                                   names=["n_regions", "order"])
    valid = isinstance(n, (int, np.integer)) and n >= 0 and order in ("both", "upper")
    assert ok == valid
    if ok:
        m = n * (n - 1) // (2 if order == "upper" else 1)
        assert out.shape == (m, 2) and (out[:, 0] != out[:, 1]).all()
        assert len({tuple(p) for p in out.tolist()}) == m


# ---------------------------------------------------------------------- RegionPairs


@functools.cache
def _pairs():
    return make_pairs(_toy())


_INDEX_KEYS = st.one_of(
    st.integers(-15, 15),
    st.lists(st.integers(-40, 40), max_size=6),
    hnp.arrays(bool, st.sampled_from([30, 29, 31, 0])),
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=3, max_side=3),
               elements=st.integers(0, 29)),
    st.lists(st.floats(0, 5), min_size=1, max_size=3),
    st.sampled_from([None, "a", 1.5, (0, 1), (slice(None), 0), slice(2, 9, 3),
                     (slice(0, 4), slice(None)), (slice(0, 4), Ellipsis), Ellipsis]),
)


@given(key=_INDEX_KEYS)
def test_region_pairs_indexing(key):
    X, _ = _pairs()
    try:
        view = X[key]
    except IndexError:  # numpy's answer to an out-of-range or non-integer index
        arr = np.asarray(key) if not isinstance(key, (slice, tuple)) else None
        assert arr is not None and arr.dtype != object, key
        if arr.ndim != 1:
            pass
        elif arr.dtype.kind in "iu":
            assert ((arr < -len(X)) | (arr >= len(X))).any()
        elif arr.dtype == bool:
            assert arr.shape != (len(X),)
        else:
            assert arr.dtype.kind in "fUS" and arr.size, key
        OUTCOMES[("RegionPairs.__getitem__", "IndexError")] += 1
        return
    except TypeError:
        OUTCOMES[("RegionPairs.__getitem__", "TypeError")] += 1
        return
    OUTCOMES[("RegionPairs.__getitem__", "ok")] += 1
    assert isinstance(view, RegionPairs) and view.pairs.ndim == 2
    assert view.pairs.shape == (len(view), 2) and view.variant.shape == (len(view),)
    row_key = key[0] if isinstance(key, tuple) else key
    if row_key is Ellipsis:
        row_key = slice(None)
    if isinstance(row_key, (int, np.integer)):
        row_key = [row_key]
    np.testing.assert_array_equal(view.pairs, X.pairs[row_key])


# ---------------------------------------------------------------------- metrics

_VECTORS = st.one_of(
    hnp.arrays(float, st.integers(0, 12), elements=st.floats(allow_nan=True,
                                                              allow_infinity=True)),
    hnp.arrays(float, st.integers(0, 12), elements=st.floats(-1, 1)),
    hnp.arrays(float, st.integers(0, 12), elements=st.sampled_from([0.5, -0.25])),
    hnp.arrays(float, st.tuples(st.integers(1, 4), st.integers(1, 3)), elements=st.floats(-1, 1)),
    hnp.arrays(float, st.integers(2, 12), elements=st.floats(-1e300, 1e300)),
    hnp.arrays(float, st.integers(2, 12), elements=st.floats(-1e-300, 1e-300)),
)


def _as_1d(v):
    v = np.asarray(v, dtype=float)
    return v[:, 0] if v.ndim == 2 and v.shape[1] == 1 else v


@given(a=_VECTORS, b=_VECTORS, spearman=st.booleans())
def test_correlations_bad_input(a, b, spearman):
    func = spearman_r if spearman else pearson_r
    ok, r = accepted_or_rejected(func.__name__, func, a, b, names=["y_true", "y_pred"])
    if not ok:
        return
    a, b = _as_1d(a), _as_1d(b)
    assert a.shape == b.shape and np.isfinite(a).all() and np.isfinite(b).all()
    degenerate = len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0
    if spearman:
        degenerate = len(a) < 2 or len(np.unique(a)) == 1 or len(np.unique(b)) == 1
    # NaN exactly when undefined (documented), else a proper correlation
    assert np.isnan(r) == degenerate, (a, b, r)
    if not degenerate:
        assert -1.0 <= r <= 1.0
        if not spearman and (np.abs(a).max() > 1e-100 and np.abs(b).max() > 1e-100):
            sa, sb = a / np.abs(a).max(), b / np.abs(b).max()
            assert r == pytest.approx(np.corrcoef(sa, sb)[0, 1], abs=1e-6)


@functools.cache
def _pairs_real():
    c = _real_slice()
    return make_pairs(c)


_OPTION = st.sampled_from([180.0, 0.0, -5.0, np.nan, np.inf, "abc", None, 30])


@given(case=st.sampled_from(["ok", "short", "nan_pred", "inf_true", "two_d", "list_X",
                             "sliced_X", "constant_pred"]),
       max_distance=_OPTION, min_pairs=st.sampled_from([0, 5, 50, -1, 2.5, True]),
       threshold=_OPTION, seed=st.integers(0, 3))
def test_metrics_bad_input(case, max_distance, min_pairs, threshold, seed):
    X, y = _pairs_real()
    rng = np.random.default_rng(seed)
    pred = y + rng.normal(0, 0.1, len(y))
    y_true = y.copy()
    if case == "short":
        pred = pred[:-1]
    elif case == "nan_pred":
        pred[seed] = np.nan
    elif case == "inf_true":
        y_true[seed] = np.inf
    elif case == "two_d":
        pred = np.column_stack([pred, pred])
    elif case == "list_X":
        X = X.pairs.tolist()
    elif case == "sliced_X":
        X = X[: len(X) // 2]
    elif case == "constant_pred":
        pred = np.full_like(y, 0.3)
    names = ["y_true", "y_pred", "X", "max_distance", "min_pairs", "distances", "threshold"]
    clean = case in ("ok", "constant_pred")
    good_md = isinstance(max_distance, (int, float)) and np.isfinite(max_distance) \
        and max_distance > 0
    good_mp = type(min_pairs) is int and min_pairs >= 0
    ok, report = accepted_or_rejected("score_report", score_report, y_true, pred, X,
                                      max_distance=max_distance, min_pairs=min_pairs,
                                      names=names)
    assert ok == (clean and good_md and good_mp), (case, max_distance, min_pairs, report)
    if ok:
        assert report["n_pairs"] == len(y) // 2
        for key in ("r2", "mse", "mae", "geodesic"):
            assert np.isfinite(report[key]), key
        assert np.isnan(report["pearson_r"]) == (case == "constant_pred")
        if case == "ok":
            assert report["pearson_r"] > 0.5
    if clean:
        u = attempt("unordered", unordered, y_true, pred, X, names=names)
        assert len(u[0]) == len(y) // 2 and np.isfinite(u[0]).all() and np.isfinite(u[1]).all()
        d = X.distances()
        ok, strata = accepted_or_rejected("distance_stratified_r", distance_stratified_r,
                                          y_true, pred, d, max_distance=max_distance,
                                          min_pairs=min_pairs, names=names)
        assert ok == (good_md and good_mp)
        if ok and case == "ok":
            for key, mask in (("short_r", d <= max_distance / 3),
                              ("long_r", d > 2 * max_distance / 3)):
                enough = (mask.sum() >= min_pairs and np.ptp(y_true[mask]) > 0
                          and np.ptp(pred[mask]) > 0)
                assert np.isnan(strata[key]) != enough, (key, mask.sum(), strata)
        good_t = isinstance(threshold, (int, float)) and threshold >= 0
        ok, strata = accepted_or_rejected("strength_stratified_r", strength_stratified_r,
                                          y_true, pred, threshold=threshold,
                                          min_pairs=min_pairs, names=names)
        assert ok == (good_t and good_mp)
        if ok:
            assert set(strata) == {"strong_neg_r", "weak_r", "strong_pos_r"}
    else:
        d = np.zeros(len(pred)) if np.ndim(pred) == 1 else np.zeros(3)
        ok, _ = accepted_or_rejected("distance_stratified_r", distance_stratified_r, y_true,
                                     pred, d, names=names)
        assert not ok or case in ("list_X", "sliced_X")


@settings(max_examples=15)
@given(distances=st.one_of(
    hnp.arrays(float, st.integers(0, 30), elements=st.floats(allow_nan=True)),
    st.sampled_from([None, "far", [[1.0, 2.0]]]),
))
def test_distance_stratified_r_bad_distances(distances):
    n = len(distances) if isinstance(distances, np.ndarray) else 5
    y = np.linspace(-1, 1, n)
    ok, out = accepted_or_rejected("distance_stratified_r", distance_stratified_r, y, y ** 3,
                                   distances, min_pairs=2,
                                   names=["distances", "y_true", "y_pred"])
    if ok:
        assert np.isfinite(np.asarray(distances, dtype=float)).all()
        for key, value in out.items():
            assert np.isnan(value) or 0.0 < value <= 1.0, key

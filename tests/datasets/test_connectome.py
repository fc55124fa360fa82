"""Tests of the Connectome container: validation, accessors, subset and equality."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

from skconn.datasets import REGION_COLUMNS, Connectome


@pytest.fixture
def parts():
    """Regions, expression and FC of a small valid connectome (real-looking values)."""
    regions = pd.DataFrame(
        {
            "label": ["L_a", "L_b", "R_a", "R_b"],
            "hemisphere": ["L", "L", "R", "R"],
            "structure": ["cortex", "cortex", "cortex", "subcortex"],
            "x": [-40.0, -10.0, 40.0, 12.0],
            "y": [10.0, -20.0, 12.0, -18.0],
            "z": [30.0, 5.0, 28.0, 4.0],
        }
    )
    expression = pd.DataFrame(
        [[0.1, 0.5, 0.9], [0.2, 0.4, 0.7], [0.15, 0.55, 0.8], [0.9, 0.1, 0.3]],
        columns=["GENE1", "GENE2", "GENE3"],
    )
    fc = np.array(
        [
            [1.0, 0.3, 0.6, 0.1],
            [0.3, 1.0, 0.2, 0.5],
            [0.6, 0.2, 1.0, 0.25],
            [0.1, 0.5, 0.25, 1.0],
        ]
    )
    return regions, expression, fc


def test_valid_input_builds(parts):
    regions, expression, fc = parts
    c = Connectome(regions, expression, fc, name="small")
    assert repr(c) == "Connectome(name='small', n_regions=4, n_genes=3, n_subjects=0)"
    assert list(c.regions.columns) == list(REGION_COLUMNS)
    assert list(c.labels) == ["L_a", "L_b", "R_a", "R_b"]
    assert list(c.expression.index) == list(c.labels)
    assert list(c.genes) == ["GENE1", "GENE2", "GENE3"]
    assert (c.n_regions, c.n_genes) == (4, 3)
    np.testing.assert_array_equal(c.coords, regions[["x", "y", "z"]].to_numpy())
    np.testing.assert_array_equal(c.connectivity, fc)
    assert c.sampled.all()


def test_inputs_are_copied_not_referenced(parts):
    regions, expression, fc = parts
    c = Connectome(regions, expression, fc)
    regions.loc[0, "x"] = 99.0
    expression.iloc[0, 0] = 99.0
    fc[0, 1] = fc[1, 0] = 99.0
    assert c.coords[0, 0] == -40.0
    assert c.expression.iloc[0, 0] == 0.1
    assert c.connectivity[0, 1] == 0.3


def test_expression_rows_are_aligned_by_label(parts):
    regions, expression, fc = parts
    shuffled = expression.set_axis(regions["label"]).iloc[[2, 0, 3, 1]]
    c = Connectome(regions, shuffled, fc)
    np.testing.assert_array_equal(c.expression.to_numpy(), expression.to_numpy())


def test_connectivity_dataframe_with_labels_is_accepted(parts):
    regions, expression, fc = parts
    frame = pd.DataFrame(fc, index=regions["label"], columns=regions["label"])
    np.testing.assert_array_equal(Connectome(regions, expression, frame).connectivity, fc)


def test_connectivity_dataframe_is_aligned_by_label_like_expression(parts, hcp100):
    regions, expression, fc = parts
    labels = regions["label"]
    frame = pd.DataFrame(fc, index=labels, columns=labels).iloc[[3, 1, 0, 2], [2, 0, 3, 1]]
    np.testing.assert_array_equal(Connectome(regions, expression, frame).connectivity, fc)
    # On real data: expression and connectivity shuffled differently give the same connectome.
    order = np.random.default_rng(0).permutation(hcp100.n_regions)
    frame = pd.DataFrame(hcp100.connectivity, index=hcp100.labels, columns=hcp100.labels)
    shuffled = Connectome(
        hcp100.regions,
        hcp100.expression.iloc[order[::-1]],
        frame.iloc[order, order[::-1]],
    )
    assert shuffled == Connectome(hcp100.regions, hcp100.expression, hcp100.connectivity)


def test_connectivity_frame_with_one_axis_labelled_out_of_order_is_refused(parts):
    regions, expression, fc = parts
    frame = pd.DataFrame(fc, index=regions["label"].iloc[[1, 0, 2, 3]])
    with pytest.raises(ValueError, match=r"row labels are in another order.*label both axes"):
        Connectome(regions, expression, frame)
    frame = pd.DataFrame(fc, columns=regions["label"])  # in order: accepted
    np.testing.assert_array_equal(Connectome(regions, expression, frame).connectivity, fc)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_diagonal_is_set_to_zero(parts, value):
    regions, expression, fc = parts
    exported = fc.copy()
    np.fill_diagonal(exported, value)
    exported[2, 2] = 1.0  # finite diagonal entries are kept
    c = Connectome(regions, expression, exported)
    np.testing.assert_array_equal(np.diag(c.connectivity), [0.0, 0.0, 1.0, 0.0])
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_array_equal(c.connectivity[off], fc[off])


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("left", "L"), ("Left", "L"), ("lh", "L"), ("LH", "L"), ("L", "L"), ("l", "L"),
        ("right", "R"), ("Right", "R"), ("rh", "R"), ("RH", "R"), ("R", "R"),
        ("both", "B"), ("bilateral", "B"), ("B", "B"), ("midline", "B"), (" Midline ", "B"),
    ],
)  # fmt: skip
def test_hemisphere_spellings_are_normalised(parts, spelling, code):
    regions, expression, fc = parts
    regions = regions.assign(hemisphere=[spelling, "L", "R", "R"])
    assert list(Connectome(regions, expression, fc).regions["hemisphere"]) == [code, "L", "R", "R"]


@pytest.mark.parametrize("bad", ["X", "up", "centre", None, 3])
def test_unknown_hemisphere_lists_the_accepted_spellings(parts, bad):
    regions, expression, fc = parts
    regions = regions.assign(hemisphere=pd.Series([bad, "L", "R", "R"], dtype=object))
    with pytest.raises(ValueError, match=r"must be L, R or B.*left.*rh.*bilateral, midline"):
        Connectome(regions, expression, fc)


def test_unsampled_rows_are_allowed(parts):
    regions, expression, fc = parts
    expression.iloc[1] = np.nan
    c = Connectome(regions, expression, fc)
    np.testing.assert_array_equal(c.sampled, [True, False, True, True])


# ------------------------------------------------------------- validation


def _nan_fc(fc):
    fc = fc.copy()
    fc[0, 2] = fc[2, 0] = np.nan
    return fc


def _asymmetric_fc(fc):
    fc = fc.copy()
    fc[0, 1] += 0.2
    return fc


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda r, e, f: (r, e, _nan_fc(f)), "connectivity contains NaN or infinite"),
        (
            lambda r, e, f: (r, e, np.where(np.eye(4, k=1, dtype=bool), np.inf, f)),
            "NaN or infinite values off the diagonal",
        ),
        (lambda r, e, f: (r, e, _asymmetric_fc(f)), r"must be symmetric; entry \(0, 1\)"),
        (lambda r, e, f: (r, e, f[:3, :3]), r"must have shape \(4, 4\).*got \(3, 3\)"),
        (lambda r, e, f: (r, e, f[:, :3]), r"must have shape \(4, 4\)"),
        (lambda r, e, f: (r, e.iloc[:3], f), "expression has 3 rows but regions has 4"),
        (lambda r, e, f: (r, e.iloc[:, :0], f), "no gene columns"),
        (
            lambda r, e, f: (r, e.set_axis(["L_a", "L_b", "R_a", "X"]), f),
            r"does not match regions.label: "
            r"not in regions \['X'\], missing from expression \['R_b'\]",
        ),
        (
            lambda r, e, f: (r.assign(label=["L_a", "L_b", "L_a", "R_b"]), e, f),
            r"duplicate labels: \['L_a'\]",
        ),
        (
            lambda r, e, f: (r, e.set_axis(["GENE1", "GENE1", "GENE3"], axis=1), f),
            r"duplicate gene columns: \['GENE1'\]",
        ),
        (
            lambda r, e, f: (r, e.mask(np.eye(4, 3, dtype=bool)), f),
            r"3 row\(s\) are partly NaN",
        ),
        (lambda r, e, f: (r, e.replace(0.5, np.inf), f), "expression contains infinite"),
        (
            lambda r, e, f: (r, e, pd.DataFrame(f, index=list("wxyz"), columns=r["label"])),
            "connectivity row labels do not match",
        ),
        (lambda r, e, f: (r.drop(columns="z"), e, f), r"missing the column\(s\) \['z'\]"),
        (
            lambda r, e, f: (r.assign(hemisphere=["L", "L", "R", "X"]), e, f),
            r"one of L, R, B.*\['X'\]",
        ),
        (
            lambda r, e, f: (r.assign(structure="white"), e, f),
            r"'cortex' or 'subcortex'.*\['white'\]",
        ),
        (
            lambda r, e, f: (r.assign(x=[0.0, np.nan, 1.0, 2.0]), e, f),
            "NaN or infinite coordinates",
        ),
        (lambda r, e, f: (r.iloc[:1], e.iloc[:1], f[:1, :1]), "at least 2 regions, got 1"),
    ],
    ids=[
        "nan-fc",
        "inf-fc",
        "asymmetric-fc",
        "small-fc",
        "non-square-fc",
        "expression-rows",
        "no-genes",
        "mismatched-labels",
        "duplicate-labels",
        "duplicate-genes",
        "partly-nan-expression",
        "inf-expression",
        "fc-frame-labels",
        "missing-column",
        "bad-hemisphere",
        "bad-structure",
        "nan-coordinate",
        "one-region",
    ],
)
def test_invalid_input_raises_value_error(parts, change, match):
    with pytest.raises(ValueError, match=match):
        Connectome(*change(*parts))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda r, e, f: (r.to_numpy(), e, f), "regions must be a pandas.DataFrame.*ndarray"),
        (lambda r, e, f: (r, e.to_numpy(), f), "expression must be a pandas.DataFrame.*ndarray"),
        (lambda r, e, f: (r, e.to_dict(), f), "expression must be a pandas.DataFrame.*got dict"),
        (lambda r, e, f: (r.assign(x=["a", "b", "c", "d"]), e, f), "x, y, z must be numeric"),
        (lambda r, e, f: (r, e.astype(object).replace(0.1, "hi"), f), "expression must be numeric"),
        (lambda r, e, f: (r, e, np.full((4, 4), "a")), r"connectivity must be a numeric \(R, R\)"),
    ],
    ids=["regions-array", "expr-array", "expr-dict", "text-coords", "text-expr", "text-fc"],
)
def test_wrong_types_raise_type_error(parts, change, match):
    with pytest.raises(TypeError, match=match):
        Connectome(*change(*parts))


def test_subject_connectivity_is_validated(parts):
    regions, expression, fc = parts
    subjects = np.stack([fc, fc * 0.9])
    subjects[1, 0, 3] = subjects[1, 3, 0] = np.nan  # a missing edge is allowed
    c = Connectome(regions, expression, fc, subject_connectivity=subjects)
    assert c.subject_connectivity.shape == (2, 4, 4)
    assert "n_subjects=2" in repr(c)
    with pytest.raises(ValueError, match=r"subject_connectivity must have shape \(S, 4, 4\)"):
        Connectome(regions, expression, fc, subject_connectivity=fc)
    asymmetric = subjects.copy()
    asymmetric[0, 0, 1] += 0.3
    with pytest.raises(ValueError, match="subject_connectivity must be symmetric"):
        Connectome(regions, expression, fc, subject_connectivity=asymmetric)
    with pytest.raises(ValueError, match="subject_connectivity contains infinite"):
        Connectome(regions, expression, fc, subject_connectivity=subjects + np.inf)


# --------------------------------------------------------------- accessors


def test_distances_are_euclidean_in_mm(parts):
    c = Connectome(*parts)
    d = c.distances()
    np.testing.assert_allclose(d, cdist(c.coords, c.coords))
    np.testing.assert_allclose(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0)
    assert d[0, 2] == pytest.approx(np.sqrt(80**2 + 2**2 + 2**2))


def test_cge_correlates_expression_rows(parts):
    regions, expression, fc = parts
    expression.iloc[1] = np.nan
    cge = Connectome(regions, expression, fc).cge()
    assert np.isnan(cge[1]).all() and np.isnan(cge[:, 1]).all()
    ok = [0, 2, 3]
    np.testing.assert_allclose(cge[np.ix_(ok, ok)], np.corrcoef(expression.to_numpy()[ok]))
    np.testing.assert_allclose(np.diag(cge)[ok], 1)


def test_cge_of_real_data(hcp400):
    cge = hcp400.cge()
    assert np.isnan(cge[~hcp400.sampled]).all()
    sampled = cge[np.ix_(hcp400.sampled, hcp400.sampled)]
    assert np.isfinite(sampled).all()
    np.testing.assert_allclose(sampled, sampled.T)
    # nearby parcels share more expression than distant ones
    iu = np.triu_indices(hcp400.sampled.sum(), 1)
    dist = hcp400.distances()[np.ix_(hcp400.sampled, hcp400.sampled)]
    assert np.corrcoef(sampled[iu], dist[iu])[0, 1] < -0.2


# ------------------------------------------------------------------ subset


def test_subset_by_positions_labels_and_mask_agree(hcp100):
    positions = [5, 0, 113, 42]
    by_position = hcp100.subset(positions)
    by_label = hcp100.subset(hcp100.labels[positions].tolist())
    assert by_position == by_label
    assert list(by_position.labels) == list(hcp100.labels[positions])
    np.testing.assert_array_equal(
        by_position.connectivity, hcp100.connectivity[np.ix_(positions, positions)]
    )
    pd.testing.assert_frame_equal(
        by_position.expression, hcp100.expression.iloc[positions], check_names=False
    )
    mask = np.zeros(hcp100.n_regions, dtype=bool)
    mask[positions] = True
    by_mask = hcp100.subset(mask)
    assert list(by_mask.labels) == sorted(by_position.labels, key=list(hcp100.labels).index)
    assert by_mask.name == hcp100.name


def test_subset_keeps_subject_connectivity(parts):
    regions, expression, fc = parts
    subjects = np.stack([fc, fc * 0.5])
    c = Connectome(regions, expression, fc, subject_connectivity=subjects).subset([3, 1])
    np.testing.assert_array_equal(c.subject_connectivity, subjects[:, [3, 1]][:, :, [3, 1]])


def test_subset_errors(hcp100):
    with pytest.raises(ValueError, match=r"unknown region labels: \['nowhere'\]"):
        hcp100.subset(["nowhere", hcp100.labels[0]])
    with pytest.raises(ValueError, match=f"region mask must have length {hcp100.n_regions}"):
        hcp100.subset(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="duplicate labels"):
        hcp100.subset([1, 1, 2])


# ---------------------------------------------------------------- equality


def test_equality(parts, hcp100):
    a = Connectome(*parts, name="a")
    b = Connectome(*parts, name="b")
    assert a == b  # equality is about the data, not the name
    regions, expression, fc = parts
    other_fc = fc.copy()
    other_fc[0, 1] = other_fc[1, 0] = 0.31
    assert a != Connectome(regions, expression, other_fc)
    assert a != Connectome(regions, expression * 2, fc)
    assert a != Connectome(regions.assign(x=regions["x"] + 1), expression, fc)
    assert a != Connectome(regions, expression, fc, subject_connectivity=fc[None])
    assert a != "a connectome"
    assert hcp100 == hcp100.subset(np.arange(hcp100.n_regions))
    assert hcp100 != hcp100.subset(np.arange(hcp100.n_regions)[::-1])
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)


def test_pickle_round_trip(hcp400):
    assert pickle.loads(pickle.dumps(hcp400)) == hcp400

"""Subject-level connectivity: a folder of per-subject matrices and the compact form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skconn.datasets import (
    Connectome,
    load_connectome,
    load_subject_connectivity,
    save_connectome,
    subject_connectivity_from_upper,
    subject_upper_triangles,
)
from skconn.pairs import pair_indices


@pytest.fixture(scope="module")
def group(hcp100_small):
    return hcp100_small.subset(np.arange(12))


def _subjects(group, n_subjects=4, seed=0):
    """Subject matrices around the real group FC (symmetric noise), a few edges missing."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_subjects):
        noise = rng.normal(scale=0.1, size=group.connectivity.shape)
        fc = group.connectivity + (noise + noise.T) / 2
        i, j = rng.integers(0, group.n_regions, size=2)
        if i != j:
            fc[i, j] = fc[j, i] = np.nan
        out.append(fc)
    return np.stack(out)


def test_reads_npy_csv_with_labels_and_plain_text(group, tmp_path):
    fc = _subjects(group)
    labels = group.labels.tolist()
    np.save(tmp_path / "sub-01.run1.npy", fc[0])
    shuffled = np.random.default_rng(1).permutation(len(labels))
    named = pd.DataFrame(fc[1], index=labels, columns=labels).iloc[shuffled, shuffled]
    named.to_csv(tmp_path / "sub-02.csv.gz", index_label="label")
    np.savetxt(tmp_path / "sub-03.txt", fc[2])
    pd.DataFrame(fc[3]).to_csv(tmp_path / "sub-04.tsv", sep="\t", header=False, index=False)
    (tmp_path / "notes.md").write_text("not a matrix")
    loaded, subjects = load_subject_connectivity(tmp_path, labels=labels, return_subjects=True)
    assert subjects == ["sub-01.run1", "sub-02", "sub-03", "sub-04"]
    np.testing.assert_allclose(loaded, fc, rtol=1e-12, equal_nan=True)
    only = load_subject_connectivity(tmp_path, pattern="sub-0[12]*")
    assert only.shape == (2, 12, 12)
    # labelled file read without labels: kept in its own order
    np.testing.assert_allclose(only[1], named.to_numpy(), equal_nan=True)


def test_into_a_connectome_and_round_trip(group, tmp_path):
    fc = _subjects(group)
    for s, matrix in enumerate(fc):
        np.save(tmp_path / f"sub-{s}.npy", matrix)
    c = Connectome(
        group.regions,
        group.expression,
        group.connectivity,
        subject_connectivity=load_subject_connectivity(tmp_path, labels=group.labels),
        name="with_subjects",
    )
    assert repr(c).endswith("n_subjects=4)")
    save_connectome(c, tmp_path / "dataset")
    assert load_connectome(tmp_path / "dataset") == c


def test_upper_triangles_and_mask_round_trip(group):
    fc = _subjects(group)
    values, mask = subject_upper_triangles(fc)
    n = group.n_regions
    assert values.shape == mask.shape == (4, n * (n - 1) // 2)
    assert (~mask).sum() == np.isnan(fc).sum() // 2
    pairs = pair_indices(n, "upper")  # the same pair order as make_pairs(order="upper")
    upper = fc[:, pairs[:, 0], pairs[:, 1]]
    np.testing.assert_array_equal(values[mask], upper[mask])
    rebuilt = subject_connectivity_from_upper(values, mask)
    off = ~np.eye(n, dtype=bool)
    np.testing.assert_array_equal(np.isnan(rebuilt[:, off]), np.isnan(fc[:, off]))
    np.testing.assert_allclose(rebuilt[:, off], fc[:, off], equal_nan=True)
    assert np.isnan(rebuilt[:, ~off]).all()
    Connectome(group.regions, group.expression, group.connectivity, subject_connectivity=rebuilt)


def test_errors(group, tmp_path):
    with pytest.raises(FileNotFoundError, match="subject folder not found"):
        load_subject_connectivity(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="no subject matrix"):
        load_subject_connectivity(tmp_path)
    fc = _subjects(group, 2)
    np.save(tmp_path / "a.npy", fc[0])
    np.save(tmp_path / "b.npy", fc[1][:5, :5])
    with pytest.raises(ValueError, match=r"b.npy: shape \(5, 5\) differs"):
        load_subject_connectivity(tmp_path)
    np.save(tmp_path / "b.npy", fc[1][:5])
    with pytest.raises(ValueError, match=r"b\.npy: expected a square"):
        load_subject_connectivity(tmp_path)
    skewed = fc[1].copy()
    skewed[0, 1] += 1
    np.save(tmp_path / "b.npy", skewed)
    with pytest.raises(ValueError, match=r"b\.npy: the matrix is not symmetric"):
        load_subject_connectivity(tmp_path)
    with pytest.raises(ValueError, match="12 regions but 3 labels"):
        load_subject_connectivity(tmp_path, labels=["a", "b", "c"])
    labels = group.labels.tolist()
    pd.DataFrame(fc[0], index=labels, columns=labels).to_csv(tmp_path / "c.csv")
    with pytest.raises(ValueError, match=r"c\.csv: region labels differ"):
        load_subject_connectivity(tmp_path, pattern="c.csv", labels=[*labels[:-1], "other"])
    with pytest.raises(ValueError, match="not R\\(R-1\\)/2"):
        subject_connectivity_from_upper(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="mask must have the shape"):
        subject_connectivity_from_upper(np.zeros((2, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"shape \(S, R, R\)"):
        subject_upper_triangles(np.zeros((3, 3)))


def test_connectome_accepts_upper_triangles_and_mask(ukbb100):
    rng = np.random.default_rng(0)
    n = ukbb100.n_regions
    noise = rng.normal(scale=0.05, size=(3, n, n))
    subjects = ukbb100.connectivity[None] + (noise + noise.transpose(0, 2, 1)) / 2
    upper, mask = subject_upper_triangles(subjects)
    mask[1, :10] = False  # ten edges missing for subject 1
    from skconn.datasets import Connectome

    c = Connectome(ukbb100.regions, ukbb100.expression, ukbb100.connectivity,
                   subject_connectivity=(upper, mask))
    assert c.subject_connectivity.shape == (3, n, n)
    i, j = np.triu_indices(n, k=1)
    np.testing.assert_allclose(c.subject_connectivity[0][i, j], subjects[0][i, j])
    assert np.isnan(c.subject_connectivity[1][i[:10], j[:10]]).all()
    with pytest.raises(ValueError, match="upper_triangles, mask"):
        Connectome(ukbb100.regions, ukbb100.expression, ukbb100.connectivity,
                   subject_connectivity=(upper,))


def test_pandas_default_labels_are_read_as_labels(group, tmp_path):
    """``pandas.DataFrame(fc).to_csv()`` writes integer labels under an empty corner."""
    fc = _subjects(group, 3)[:, :6, :6]
    fc[1][np.diag_indices(6)] = np.nan  # a missing diagonal too
    for s, matrix in enumerate(fc):
        pd.DataFrame(matrix).to_csv(tmp_path / f"sub-{s}.csv")
    loaded = load_subject_connectivity(tmp_path)
    assert loaded.shape == (3, 6, 6)
    np.testing.assert_allclose(loaded, fc, rtol=1e-12, equal_nan=True)
    # the integer labels are labels: reordered to labels given as strings
    order = [5, 3, 1, 0, 2, 4]
    reordered = load_subject_connectivity(tmp_path, labels=[str(k) for k in order])
    np.testing.assert_allclose(reordered, fc[:, order][:, :, order], equal_nan=True)
    # atlas ids as labels, in the file's own order
    ids = [11, 12, 13, 14, 15, 16]
    pd.DataFrame(fc[0], index=ids, columns=ids).to_csv(tmp_path / "sub-0.csv")
    loaded = load_subject_connectivity(tmp_path, pattern="sub-0.csv")
    np.testing.assert_allclose(loaded[0], fc[0], rtol=1e-12, equal_nan=True)


def test_header_option_and_ambiguous_files(group, tmp_path):
    fc = _subjects(group, 1)[0, :5, :5]
    fc[np.diag_indices(5)] = np.nan
    # a plain matrix with a missing diagonal: its first row repeats its first column
    pd.DataFrame(fc).to_csv(tmp_path / "plain.csv", header=False, index=False)
    plain = load_subject_connectivity(tmp_path)
    np.testing.assert_allclose(plain[0], fc, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        load_subject_connectivity(tmp_path, header=False)[0], fc, rtol=1e-12, equal_nan=True
    )
    # forced: the first row and column read as labels
    forced = load_subject_connectivity(tmp_path, header=True)
    np.testing.assert_allclose(forced[0], fc[1:, 1:], rtol=1e-12, equal_nan=True)
    # only the corner empty on the diagonal: labels that do not repeat, or a mistake
    corner = _subjects(group, 1)[0, :5, :5]
    corner[0, 0] = np.nan
    pd.DataFrame(corner).to_csv(tmp_path / "plain.csv", header=False, index=False)
    with pytest.raises(ValueError, match=r"plain\.csv: the top-left cell is empty.*header="):
        load_subject_connectivity(tmp_path)
    np.testing.assert_allclose(
        load_subject_connectivity(tmp_path, header=False)[0], corner, equal_nan=True
    )
    with pytest.raises(TypeError, match="header must be True, False or None"):
        load_subject_connectivity(tmp_path, header="yes")

"""Tests of reading and writing the dataset folder layout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skconn.datasets import Connectome, load_connectome, save_connectome


@pytest.mark.parametrize(
    ("fixture", "folder", "shape", "n_unsampled"),
    [
        ("hcp100", "hcp_schaefer100", (114, 810), 0),
        ("ukbb100", "ukbb_schaefer100", (100, 810), 0),
        ("hcp400", "hcp_schaefer400", (414, 282), 49),
    ],
)
def test_real_datasets_load(shared_data, request, fixture, folder, shape, n_unsampled):
    c = request.getfixturevalue(fixture)  # load_connectome(shared_data / folder)
    assert c.name == folder
    assert (c.n_regions, c.n_genes) == shape
    assert int((~c.sampled).sum()) == n_unsampled
    regions = pd.read_csv(shared_data / folder / "regions.csv")
    assert list(c.labels) == list(regions["label"].astype(str))
    np.testing.assert_array_equal(c.coords, regions[["x", "y", "z"]].to_numpy())
    left = (c.regions["hemisphere"] == "L").to_numpy()
    right = (c.regions["hemisphere"] == "R").to_numpy()
    assert (c.coords[left, 0] < 0).all() and (c.coords[right, 0] > 0).all()


@pytest.mark.parametrize("dataset", ["hcp100", "ukbb100", "hcp400"])
def test_real_datasets_round_trip_unchanged(dataset, request, tmp_path):
    original = request.getfixturevalue(dataset)
    save_connectome(original, tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [
        "connectivity.csv.gz",
        "expression.csv.gz",
        "regions.csv",
    ]
    copy = load_connectome(tmp_path / "copy", name=original.name)
    assert copy == original
    assert copy.name == original.name
    # exact, not approximately equal: floats survive the text format bit for bit
    np.testing.assert_array_equal(copy.connectivity, original.connectivity)
    np.testing.assert_array_equal(
        copy.expression.to_numpy(), original.expression.to_numpy()
    )  # NaN rows compare equal here
    assert list(copy.genes) == list(original.genes)


def test_subject_connectivity_round_trips(hcp100_small, tmp_path):
    fc = hcp100_small.connectivity
    subjects = np.stack([fc, fc * 0.8, fc * 1.1])
    subjects[2, 0, 1] = subjects[2, 1, 0] = np.nan
    c = Connectome(
        hcp100_small.regions,
        hcp100_small.expression,
        fc,
        subject_connectivity=subjects,
    )
    save_connectome(c, tmp_path)
    assert (tmp_path / "subject_connectivity.npy").is_file()
    copy = load_connectome(tmp_path)
    assert copy == c
    n = hcp100_small.n_regions
    assert copy.subject_connectivity.shape == (3, n, n)


@pytest.mark.parametrize(
    "labels",
    [
        ["001", "002", "010", "100", "1e3", "2.50"],  # zero-padded and number-like
        ["NA", "nan", "NULL", "None", "n/a", "-"],  # pandas' missing-value markers
    ],
)
def test_labels_round_trip_as_written(hcp100_small, tmp_path, labels):
    sub = hcp100_small.subset(np.arange(6))
    expression = sub.expression.set_axis(labels, axis=0)
    expression.iloc[2] = np.nan  # an unsampled region stays unsampled
    c = Connectome(sub.regions.assign(label=labels), expression, sub.connectivity)
    save_connectome(c, tmp_path)
    copy = load_connectome(tmp_path)
    assert copy.labels.tolist() == labels
    assert copy.expression.index.tolist() == labels
    assert copy == c
    assert copy.sampled.tolist() == [True, True, False, True, True, True]


def test_folder_name_is_the_default_name(hcp100_small, tmp_path):
    save_connectome(hcp100_small, tmp_path / "my_dataset")
    assert load_connectome(tmp_path / "my_dataset").name == "my_dataset"
    assert load_connectome(str(tmp_path / "my_dataset"), name="other").name == "other"


def test_save_overwrites(hcp100_small, hcp100, tmp_path):
    save_connectome(hcp100, tmp_path)
    save_connectome(hcp100_small, tmp_path)
    assert load_connectome(tmp_path) == hcp100_small


def test_missing_folder_or_file(hcp100_small, tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset folder not found"):
        load_connectome(tmp_path / "absent")
    save_connectome(hcp100_small, tmp_path)
    (tmp_path / "expression.csv.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks \['expression.csv.gz'\]"):
        load_connectome(tmp_path)


def test_inconsistent_files_raise(hcp100_small, tmp_path):
    save_connectome(hcp100_small, tmp_path)
    regions = pd.read_csv(tmp_path / "regions.csv")
    regions.loc[0, "label"] = "renamed"
    regions.to_csv(tmp_path / "regions.csv", index=False)
    with pytest.raises(ValueError, match=r"missing from expression \['renamed'\]"):
        load_connectome(tmp_path)


def test_asymmetric_file_raises(hcp100_small, tmp_path):
    save_connectome(hcp100_small, tmp_path)
    fc = pd.read_csv(tmp_path / "connectivity.csv.gz", index_col=0)
    fc.iloc[0, 1] += 0.5
    fc.to_csv(tmp_path / "connectivity.csv.gz")
    with pytest.raises(ValueError, match="connectivity must be symmetric"):
        load_connectome(tmp_path)


def test_save_needs_a_connectome(tmp_path):
    with pytest.raises(TypeError, match="connectome must be a Connectome, got dict"):
        save_connectome({}, tmp_path)


def test_files_in_another_region_order_are_aligned_by_label(hcp100_small, tmp_path):
    c = hcp100_small
    save_connectome(c, tmp_path)
    order = np.random.default_rng(1).permutation(c.n_regions)
    for file in ("connectivity.csv.gz", "expression.csv.gz"):
        table = pd.read_csv(tmp_path / file, index_col=0)
        table = table.iloc[order, order] if file.startswith("conn") else table.iloc[order[::-1]]
        table.to_csv(tmp_path / file)
    regions = pd.read_csv(tmp_path / "regions.csv")
    regions["hemisphere"] = regions["hemisphere"].map({"L": "lh", "R": "Right", "B": "midline"})
    connectivity = pd.read_csv(tmp_path / "connectivity.csv.gz", index_col=0)
    np.fill_diagonal(connectivity.values, np.nan)  # as many exports write it
    connectivity.to_csv(tmp_path / "connectivity.csv.gz")
    regions.to_csv(tmp_path / "regions.csv", index=False)
    loaded = load_connectome(tmp_path, name=c.name)
    expected = c.connectivity.copy()
    np.fill_diagonal(expected, 0.0)
    assert loaded == Connectome(c.regions, c.expression, expected, name=c.name)

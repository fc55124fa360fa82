"""Atlas image -> Connectome (nilearn centroids) and FC from region time series."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from skconn.datasets import (
    Connectome,
    connectivity_from_timeseries,
    connectome_from_atlas,
    load_connectome,
    region_centroids,
    save_connectome,
)

#: Real hcp_schaefer100 regions (cortex both sides, thalamus): 6 mm spheres round them.
REGIONS = [
    "7Networks_LH_Vis_1",
    "7Networks_LH_Default_PFC_7",
    "7Networks_RH_Vis_1",
    "7Networks_RH_Cont_PFCl_1",
    "Lthal",
    "Rthal",
]
RADIUS = 6.0


def _sphere_atlas(centres, voxel=1.0, radius=RADIUS):
    """Label image (ids 1..R in order) of spheres round ``centres`` on an MNI-aligned grid."""
    low = np.floor(centres.min(axis=0) - radius - 4)
    high = np.ceil(centres.max(axis=0) + radius + 4)
    low[0], high[0] = min(low[0], -4), max(high[0], 4)  # keep the midline in the image
    shape = ((high - low) / voxel + 1).astype(int)
    affine = np.diag([voxel, voxel, voxel, 1.0])
    affine[:3, 3] = low
    grid = np.stack(np.meshgrid(*map(np.arange, shape), indexing="ij"), axis=-1) * voxel + low
    data = np.zeros(shape, dtype=np.int16)
    for rid, centre in enumerate(centres, start=1):
        data[np.linalg.norm(grid - centre, axis=-1) <= radius] = rid
    return nib.Nifti1Image(data, affine)


@pytest.fixture(scope="module")
def real(hcp100):
    sub = hcp100.subset(REGIONS)
    info = pd.DataFrame(
        {
            "id": np.arange(1, len(REGIONS) + 1),
            "label": REGIONS,
            "hemisphere": sub.regions["hemisphere"].to_numpy(),
            "structure": sub.regions["structure"].to_numpy(),
        }
    )
    return {"connectome": sub, "info": info, "atlas": _sphere_atlas(sub.coords)}


def test_centroids_recover_the_real_coordinates(real):
    table = region_centroids(real["atlas"], real["info"].set_index("id")["hemisphere"])
    np.testing.assert_allclose(table[["x", "y", "z"]], real["connectome"].coords, atol=0.5)
    assert table["hemisphere"].tolist() == real["connectome"].regions["hemisphere"].tolist()
    # without hemispheres they are inferred from the side of the midline
    inferred = region_centroids(real["atlas"])
    assert inferred["hemisphere"].tolist() == table["hemisphere"].tolist()
    # the same atlas stored left-to-right flipped (LAS voxel order, as FSL's MNI templates)
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip[0, 3] = real["atlas"].shape[0] - 1
    las = nib.Nifti1Image(np.asarray(real["atlas"].dataobj)[::-1], real["atlas"].affine @ flip)
    flipped = region_centroids(las, real["info"].set_index("id")["hemisphere"])
    np.testing.assert_allclose(flipped[["x", "y", "z"]], table[["x", "y", "z"]], atol=1e-9)
    with pytest.raises(ValueError, match=r"hemispheres must be L, R or B.*\['up'\]"):
        region_centroids(real["atlas"], {1: "up"})
    with pytest.raises(ValueError, match="no region"):
        region_centroids(nib.Nifti1Image(np.zeros((4, 4, 4), dtype=np.int16), np.eye(4)))
    with pytest.raises(ValueError, match="integer region ids"):
        region_centroids(nib.Nifti1Image(np.full((4, 4, 4), 0.5), np.eye(4)))


def test_a_label_leaking_across_the_midline_keeps_its_side():
    centres = np.array([[-6.0, 0.0, 0.0], [30.0, 0.0, 0.0]])
    img = _sphere_atlas(centres, radius=4)
    data = np.asarray(img.dataobj).copy()
    ijk = np.rint(np.linalg.inv(img.affine) @ [3.0, 0.0, 0.0, 1.0])[:3].astype(int)
    data[ijk[0] : ijk[0] + 2, ijk[1], ijk[2]] = 1  # two stray voxels of region 1 at x = 3, 4
    img = nib.Nifti1Image(data, img.affine)
    table = region_centroids(img, {1: "L", 2: "R"})
    np.testing.assert_allclose(table.loc[1, ["x", "y", "z"]].to_numpy(float), centres[0])


def test_a_region_with_no_voxel_on_its_declared_side_is_refused():
    data = np.zeros((20, 10, 10), dtype=np.int16)
    data[2:6, 2:6, 2:6] = 1  # x < 0
    data[15:19, 2:6, 2:6] = 2  # x > 0
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[0, 3] = -20
    img = nib.Nifti1Image(data, affine)
    np.testing.assert_allclose(region_centroids(img, {1: "L", 2: "R"})["x"], [-13.0, 13.0])
    # not the centre of the background (x = 0) nor of the other side
    with pytest.raises(ValueError, match=r"1 region\(s\) declared R .*x >= 0.*ids \[1\]"):
        region_centroids(img, {1: "R", 2: "R"})
    with pytest.raises(ValueError, match=r"1 region\(s\) declared L .*x < 0.*ids \[2\]"):
        region_centroids(img, {1: "L", 2: "L"})
    info = pd.DataFrame({"id": [1, 2], "label": ["a", "b"], "hemisphere": ["R", "L"]})
    with pytest.raises(ValueError, match=r"declared (R|L) have no voxel"):
        expression = pd.DataFrame({"G1": [0.1, 0.2]}, index=[1, 2])
        connectome_from_atlas(img, expression, np.eye(2), atlas_info=info)


def test_connectome_from_atlas(real, tmp_path):
    c = real["connectome"]
    expression = c.expression.iloc[::-1]  # any row order: matched by label
    built = connectome_from_atlas(
        real["atlas"], expression, c.connectivity, atlas_info=real["info"], name="spheres"
    )
    assert isinstance(built, Connectome)
    assert built.labels.tolist() == REGIONS
    assert built.regions[["hemisphere", "structure"]].equals(c.regions[["hemisphere", "structure"]])
    np.testing.assert_allclose(built.coords, c.coords, atol=0.5)
    assert built.expression.equals(c.expression)
    np.testing.assert_array_equal(built.connectivity, c.connectivity)
    # indexed by atlas id, as fetch_ahba_expression returns it without labels
    by_id = c.expression.set_axis([str(i) for i in range(1, 7)], axis=0)
    again = connectome_from_atlas(
        real["atlas"], by_id, c.connectivity, atlas_info=real["info"], name="spheres"
    )
    assert again == built
    save_connectome(built, tmp_path)
    assert load_connectome(tmp_path) == built


def test_abagen_style_atlas_info_and_no_info(real):
    c = real["connectome"]
    info = real["info"].assign(
        hemisphere=real["info"]["hemisphere"].map({"L": "lh", "R": "rh"}),
        structure=real["info"]["structure"].replace({"subcortex": "subcortex/brainstem"}),
    )
    built = connectome_from_atlas(real["atlas"], c.expression, c.connectivity, atlas_info=info)
    assert built.regions[["hemisphere", "structure"]].equals(c.regions[["hemisphere", "structure"]])
    plain = connectome_from_atlas(
        real["atlas"], c.expression.set_axis(list("123456"), axis=0), c.connectivity
    )
    assert plain.labels.tolist() == list("123456")
    assert (plain.regions["structure"] == "cortex").all()
    assert plain.regions["hemisphere"].tolist() == c.regions["hemisphere"].tolist()


def test_mismatched_regions_are_clear_errors(real):
    c, info, atlas = real["connectome"], real["info"], real["atlas"]
    with pytest.raises(ValueError, match=r"expression regions do not match.*1 not in the atlas"):
        wrong = c.expression.rename(index={REGIONS[0]: "elsewhere"})
        connectome_from_atlas(atlas, wrong, c.connectivity, atlas_info=info)
    with pytest.raises(ValueError, match=r"1 atlas region.* missing from expression"):
        connectome_from_atlas(atlas, c.expression.iloc[1:], c.connectivity, atlas_info=info)
    with pytest.raises(ValueError, match=r"no row in atlas_info \(unlabelled ids \[6\]\)"):
        connectome_from_atlas(atlas, c.expression, c.connectivity, atlas_info=info.iloc[:5])
    extra = pd.concat(
        [
            info,
            pd.DataFrame(
                {"id": [9], "label": ["ghost"], "hemisphere": ["L"], "structure": ["cortex"]}
            ),
        ]
    )
    with pytest.raises(ValueError, match=r"no voxel in atlas_img: \[9\]"):
        connectome_from_atlas(atlas, c.expression, c.connectivity, atlas_info=extra)
    with pytest.raises(ValueError, match="connectivity must have shape"):
        connectome_from_atlas(atlas, c.expression, c.connectivity[:5, :5], atlas_info=info)
    # A labelled connectivity frame is aligned by label, like expression (issue 17);
    # labels that are not the atlas regions are refused.
    wrong = [*REGIONS[:-1], "elsewhere"]
    fc = pd.DataFrame(c.connectivity, index=wrong, columns=wrong)
    with pytest.raises(ValueError, match=r"row labels do not match.*\['elsewhere'\]"):
        connectome_from_atlas(atlas, c.expression, fc, atlas_info=info)
    fc = pd.DataFrame(c.connectivity[::-1, ::-1], index=REGIONS[::-1], columns=REGIONS[::-1])
    aligned = connectome_from_atlas(atlas, c.expression, fc, atlas_info=info)
    np.testing.assert_array_equal(aligned.connectivity, c.connectivity)
    with pytest.raises(ValueError, match="hemisphere must be"):
        connectome_from_atlas(
            atlas, c.expression, c.connectivity, atlas_info=info.assign(hemisphere="up")
        )


# ------------------------------------------------------------------ time series
def _residual_corr(ts, design):
    """Pearson correlation of the residuals of ``ts`` on ``design`` (by hand)."""
    beta, *_ = np.linalg.lstsq(design, ts, rcond=None)
    return np.corrcoef(ts - design @ beta, rowvar=False)


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(0)
    n_time = 120
    latent = rng.normal(size=(n_time, 2))
    mixing = rng.normal(size=(2, 6))
    confounds = rng.normal(size=(n_time, 2))
    ts = latent @ mixing + 0.7 * rng.normal(size=(n_time, 6))
    ts += np.linspace(0, 3, n_time)[:, None] + confounds @ rng.normal(size=(2, 6))
    return ts, confounds


def test_plain_correlation(series):
    ts, _ = series
    fc = connectivity_from_timeseries(ts, detrend=False)
    np.testing.assert_allclose(fc, np.corrcoef(ts, rowvar=False), atol=1e-10)
    assert np.array_equal(fc, fc.T)


def test_detrending_and_confounds_match_regressing_them_out(series):
    ts, confounds = series
    fc = connectivity_from_timeseries(ts, confounds=confounds)
    n_time = len(ts)
    design = np.column_stack([np.ones(n_time), np.arange(n_time), confounds])
    np.testing.assert_allclose(fc, _residual_corr(ts, design), atol=1e-8)


def test_fisher_z_and_runs(series):
    ts, _ = series
    r = connectivity_from_timeseries(ts)
    z = connectivity_from_timeseries(ts, fisher_z=True)
    off = ~np.eye(6, dtype=bool)
    np.testing.assert_allclose(z[off], np.arctanh(r[off]))
    assert (np.diag(z) == 0).all() and (np.diag(r) == 1).all()
    stacked = connectivity_from_timeseries([ts, ts[:60]])
    assert stacked.shape == (2, 6, 6)
    np.testing.assert_allclose(stacked[0], r)
    np.testing.assert_allclose(stacked[1], connectivity_from_timeseries(ts[:60]))


def test_band_pass_changes_the_estimate(series):
    ts, _ = series
    filtered = connectivity_from_timeseries(ts, t_r=0.8, low_pass=0.1, high_pass=0.01)
    assert filtered.shape == (6, 6)
    assert not np.allclose(filtered, connectivity_from_timeseries(ts))


def test_time_series_errors_and_rank_deficiency(series):
    ts, _ = series
    bad = ts.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in region column\(s\) \[2\]"):
        connectivity_from_timeseries(bad)
    with pytest.warns(UserWarning, match="5 timepoints for 6 regions.*rank-deficient"):
        connectivity_from_timeseries(ts[:5])
    with pytest.raises(ValueError, match="at least 3 timepoints"):
        connectivity_from_timeseries(ts[:2])
    with pytest.raises(ValueError, match="either time_series or img"):
        connectivity_from_timeseries()
    with pytest.raises(ValueError, match="same regions"):
        connectivity_from_timeseries([ts, ts[:, :4]])
    with pytest.raises(ValueError, match="needs an atlas"):
        connectivity_from_timeseries(img=object())


def test_from_a_nifti_image_and_atlas(real):
    atlas = _sphere_atlas(real["connectome"].coords, voxel=3.0)
    labels = np.asarray(atlas.dataobj)
    rng = np.random.default_rng(1)
    n_time = 40
    region_signal = rng.normal(size=(n_time, 6)) @ rng.normal(size=(6, 6))
    data = np.zeros((*labels.shape, n_time), dtype=np.float32)
    for rid in range(1, 7):
        voxels = labels == rid
        data[voxels] = region_signal[:, rid - 1] + rng.normal(size=(voxels.sum(), n_time))
    img = nib.Nifti1Image(data, atlas.affine)
    means = np.column_stack([data[labels == rid].mean(axis=0) for rid in range(1, 7)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nilearn's notes on the image
        fc = connectivity_from_timeseries(img=img, atlas=atlas, detrend=False)
    np.testing.assert_allclose(fc, np.corrcoef(means, rowvar=False), atol=1e-5)


def test_from_a_surface_image_and_labels():
    from nilearn.surface import InMemoryMesh, PolyMesh, SurfaceImage

    rng = np.random.default_rng(2)
    n_vertices, n_time = 12, 30

    def mesh(x):
        coords = rng.normal(size=(n_vertices, 3)) + np.array([x, 0, 0])
        return InMemoryMesh(coords, np.array([[i, i + 1, i + 2] for i in range(n_vertices - 2)]))

    meshes = PolyMesh(left=mesh(-40), right=mesh(40))
    labels = {"left": np.repeat([1, 2, 3], 4), "right": np.repeat([4, 5, 6], 4)}
    signal = rng.normal(size=(n_time, 6))
    data = {
        side: np.stack([signal[:, k - 1] + 0.3 * rng.normal(size=n_time) for k in labels[side]])
        for side in labels
    }
    fc = connectivity_from_timeseries(
        img=SurfaceImage(mesh=meshes, data=data),
        atlas=SurfaceImage(mesh=meshes, data=labels),
        detrend=False,
    )
    vertices = np.concatenate([data["left"], data["right"]])
    vertex_label = np.concatenate([labels["left"], labels["right"]])
    means = np.column_stack([vertices[vertex_label == k].mean(axis=0) for k in range(1, 7)])
    np.testing.assert_allclose(fc, np.corrcoef(means, rowvar=False), atol=1e-10)


# ------------------------------------------------------------------ the embedded default
@pytest.fixture(scope="module")
def default(tmp_path_factory):
    from importlib.util import find_spec

    if not all(find_spec(n) for n in ("imaging_transcriptomics", "brainspace")):
        pytest.skip("the default dataset's source packages are not installed")
    from skconn.datasets import load_default

    return load_default(cache_dir=tmp_path_factory.mktemp("cache"), verbose=False)


def test_default_rebuilt_with_connectome_from_atlas(default, tmp_path):
    """The default's regions are what connectome_from_atlas makes of its DK volume."""
    from skconn.datasets import _default

    it_dir = _default._package_dir("imaging_transcriptomics")
    cortex = _default._cortical_regions(it_dir)
    atlas = nib.load(_default._package_file(it_dir, _default._ATLAS_FILE))
    labels = np.asarray(atlas.dataobj).astype(np.int16)
    cortical_only = nib.Nifti1Image(
        np.where(np.isin(labels, cortex["id"]), labels, 0), atlas.affine
    )
    info = cortex.assign(structure="cortex")[["id", "label", "hemisphere", "structure"]]
    rebuilt = connectome_from_atlas(
        cortical_only, default.expression, default.connectivity, atlas_info=info, name="default"
    )
    assert rebuilt == default
    with pytest.raises(ValueError, match="unlabelled ids"):
        connectome_from_atlas(atlas, default.expression, default.connectivity, atlas_info=info)
    save_connectome(default, tmp_path)
    assert load_connectome(tmp_path) == default  # round trip, unchanged

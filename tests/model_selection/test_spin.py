"""SpinNullSplit: base folds on null variants, in scikit-learn's model selection."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit, SpinNullSplit
from skconn.models import ConnectomeModelRegressor
from skconn.nulls import whole_brain_spins
from skconn.pairs import make_pairs


@pytest.fixture(scope="module")
def null_pairs(hcp100_small):
    perms, _, _ = whole_brain_spins(hcp100_small, 6, random_state=0)
    X, y = make_pairs(hcp100_small, nulls=perms)
    return X, y, perms


@pytest.mark.parametrize(
    "base",
    [SpatialRegionSplit(4, random_state=3), RandomRegionSplit(3, random_state=0)],
    ids=["spatial", "random"],
)
def test_folds_match_base_splitter(null_pairs, base):
    X, y, perms = null_pairs
    cv = SpinNullSplit(base)
    assert cv.get_n_splits(X, y) == base.get_n_splits()
    base_folds = list(base.split(X, y))
    null_folds = list(cv.split(X, y))
    assert len(null_folds) == len(base_folds)
    used = []
    for k, ((tr0, te0), (tr, te)) in enumerate(zip(base_folds, null_folds, strict=True)):
        # same pairs (so same regions and same targets) ...
        np.testing.assert_array_equal(X.pairs[tr], X.pairs[tr0])
        np.testing.assert_array_equal(X.pairs[te], X.pairs[te0])
        np.testing.assert_array_equal(y[tr], y[tr0])
        # ... read from one null variant per fold, a different one each fold
        assert np.unique(X.variant[tr]).tolist() == [k + 1]
        assert np.unique(X.variant[te]).tolist() == [k + 1]
        feats = X[te].region_features(X.pairs[te][:, 0], k + 1)
        np.testing.assert_array_equal(feats, X.region_features(perms[k][X.pairs[te][:, 0]]))
        used.append(k + 1)
    assert len(set(used)) == len(used)


def test_explicit_variants_and_errors(null_pairs):
    X, y, _ = null_pairs
    cv = SpinNullSplit(RandomRegionSplit(2, random_state=0), variants=[6, 4])
    assert [np.unique(X.variant[tr]).item() for tr, _ in cv.split(X, y)] == [6, 4]
    with pytest.raises(ValueError, match="null variants"):
        list(SpinNullSplit(RandomRegionSplit(2, random_state=0), variants=[1, 9]).split(X, y))
    with pytest.raises(ValueError, match="not 0"):
        list(SpinNullSplit(RandomRegionSplit(2, random_state=0), variants=[0, 1]).split(X, y))
    with pytest.raises(ValueError, match="2 folds"):
        list(SpinNullSplit(RandomRegionSplit(2, random_state=0), variants=[1]).split(X, y))
    with pytest.raises(ValueError, match="at least 8 nulls"):
        list(SpinNullSplit(RandomRegionSplit(8, random_state=0)).split(X, y))
    with pytest.raises(TypeError, match="RegionPairs"):
        list(SpinNullSplit(RandomRegionSplit(2)).split(np.ones((10, 4))))
    with pytest.raises(ValueError, match="distinct"):
        list(SpinNullSplit(RandomRegionSplit(2, random_state=0), variants=[3, 3]).split(X, y))


@pytest.mark.parametrize("base", [KFold(3), 5, None], ids=["kfold", "int", "none"])
def test_base_cv_must_be_a_region_splitter(null_pairs, base):
    # KFold folds the rows of every variant, which map onto one null as repeated pairs
    # in both train and test; GridSearchCV calls get_n_splits before split
    X, y, _ = null_pairs
    cv = SpinNullSplit(base)
    with pytest.raises(TypeError, match="base_cv must be a region splitter"):
        cv.get_n_splits(X, y)
    with pytest.raises(TypeError, match="base_cv must be a region splitter"):
        list(cv.split(X, y))


def test_x_without_nulls_is_not_scored_as_a_null(hcp100_small):
    X, y = make_pairs(hcp100_small)
    with pytest.raises(ValueError, match="only the true data"):
        list(SpinNullSplit(RandomRegionSplit(2, random_state=0)).split(X, y))


def test_cross_validate_and_nested_search(null_pairs):
    X, y, _ = null_pairs
    base = SpatialRegionSplit(3, random_state=0)
    model = ConnectomeModelRegressor(alpha=10.0)
    true = cross_validate(model, X, y, cv=base, scoring="r2")["test_score"]
    null = cross_validate(model, X, y, cv=SpinNullSplit(base), scoring="r2")["test_score"]
    assert true.shape == null.shape == (3,)
    assert true.mean() > null.mean()
    search = GridSearchCV(
        ConnectomeModelRegressor(), {"alpha": [1.0, 1e3]}, cv=RandomRegionSplit(2, random_state=0)
    )
    out = cross_validate(search, X, y, cv=SpinNullSplit(base), return_estimator=True)
    assert len(out["test_score"]) == 3
    assert all(est.best_params_["alpha"] in (1.0, 1e3) for est in out["estimator"])


def test_inner_split_of_one_null_variant(null_pairs):
    """Nested under an outer SpinNullSplit, the inner splitter sees one variant."""
    X, y, _ = null_pairs
    outer = SpinNullSplit(RandomRegionSplit(2, random_state=0))
    train, _ = next(outer.split(X, y))
    inner = SpinNullSplit(RandomRegionSplit(2, random_state=1))
    for tr, te in inner.split(X[train], y[train]):
        assert np.unique(X[train].variant[tr]).tolist() == [1]
        assert np.unique(X[train].variant[te]).tolist() == [1]


def test_repr_and_clone():
    from sklearn.base import clone

    cv = SpinNullSplit(RandomRegionSplit(2, random_state=0), variants=[2, 1])
    assert "SpinNullSplit" in repr(cv) and "variants=[2, 1]" in repr(cv)
    cloned = clone(GridSearchCV(ConnectomeModelRegressor(), {"alpha": [1.0]}, cv=cv)).cv
    assert repr(cloned) == repr(cv)


def test_end_to_end_with_cge_matched_nulls(hcp100):
    """cge_matched_spins -> make_pairs(nulls=...) -> SpinNullSplit in cross_validate."""
    from skconn.nulls import cge_matched_spins

    best, _ = cge_matched_spins(hcp100, n_spins=40, k=4, random_state=0)
    X, y = make_pairs(hcp100, nulls=best)
    assert X.n_variants == 5
    base = SpatialRegionSplit(4, random_state=1)
    null = cross_validate(ConnectomeModelRegressor(alpha=100.0), X, y,
                          cv=SpinNullSplit(base), scoring="r2")["test_score"]
    true = cross_validate(ConnectomeModelRegressor(alpha=100.0), X, y, cv=base,
                          scoring="r2")["test_score"]
    assert null.shape == true.shape == (4,)
    assert np.isfinite(null).all()


def test_rows_of_variant_maps_pairs_across_variants_and_names_missing_ones(null_pairs):
    from skconn.model_selection._spin import rows_of_variant

    X, _, _ = null_pairs
    rows = np.arange(0, len(X) // X.n_variants, 7)
    moved = rows_of_variant(X, rows, 3)
    np.testing.assert_array_equal(X.pairs[moved], X.pairs[rows])
    assert (X.variant[moved] == 3).all()
    with pytest.raises(ValueError, match="lacks some of the fold's pairs in null variant 3"):
        rows_of_variant(X[X.variant < 3], rows, 3)

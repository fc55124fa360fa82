import pickle

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression

from skconn.datasets import Connectome
from skconn.model_selection import RandomRegionSplit
from skconn.models import PLSBilinearRegressor
from skconn.pairs import make_pairs

from ._protocol import protocol_scores


def test_encoder_sees_training_regions_only(hcp100):
    X, y = make_pairs(hcp100)
    train, _ = next(RandomRegionSplit(4, random_state=0).split(X))
    model = PLSBilinearRegressor(5, alpha=1.0).fit(X[train], y[train])
    regions = np.unique(X.pairs[train])
    E = hcp100.expression.to_numpy()[regions]
    Y = hcp100.connectivity[np.ix_(regions, regions)].copy()
    off = ~np.eye(len(regions), dtype=bool)
    np.fill_diagonal(Y, Y[off].mean())  # unobserved diagonal -> mean of the given pairs
    direct = PLSRegression(5, scale=True, max_iter=1000).fit(E, Y)
    np.testing.assert_allclose(
        np.abs(model.encoder_.x_rotations_), np.abs(direct.x_rotations_), atol=1e-8
    )
    assert model.n_components_ == 5


def test_iterable_of_splits_as_inner_cv(hcp100_small):
    X, y = make_pairs(hcp100_small)
    splitter = RandomRegionSplit(3, random_state=0)
    by_list = PLSBilinearRegressor(3, cv=list(splitter.split(X))).fit(X, y)
    by_splitter = PLSBilinearRegressor(3, cv=splitter).fit(X, y)
    np.testing.assert_array_equal(
        by_list.decoder_.cv_results_["mean_score"], by_splitter.decoder_.cv_results_["mean_score"]
    )
    np.testing.assert_allclose(by_list.predict(X), by_splitter.predict(X))


def test_unobserved_zero_gives_the_reference_encoder_targets(hcp100_small):
    """REFERENCE §3.4: PLS targets are the training block of Y with a zero diagonal."""
    X, y = make_pairs(hcp100_small)
    train, _ = next(RandomRegionSplit(4, random_state=0).split(X))
    regions = np.unique(X.pairs[train])
    E = hcp100_small.expression.to_numpy()[regions]
    Y = hcp100_small.connectivity[np.ix_(regions, regions)].copy()
    np.fill_diagonal(Y, 0.0)
    direct = PLSRegression(4, scale=True, max_iter=1000).fit(E, Y)
    zero = PLSBilinearRegressor(4, alpha=1.0, unobserved="zero").fit(X[train], y[train])
    np.testing.assert_allclose(
        np.abs(zero.encoder_.x_rotations_), np.abs(direct.x_rotations_), atol=1e-8
    )
    mean = PLSBilinearRegressor(4, alpha=1.0).fit(X[train], y[train])
    assert np.abs(np.abs(mean.encoder_.x_rotations_) - np.abs(direct.x_rotations_)).max() > 1e-3


def test_raw_projection_embeds_uncentred_features(ukbb100):
    X, y = make_pairs(ukbb100)
    raw = PLSBilinearRegressor(4, alpha=1.0).fit(X, y)
    centred = PLSBilinearRegressor(4, alpha=1.0, projection="centered").fit(X, y)
    E = ukbb100.expression.to_numpy()
    np.testing.assert_allclose(raw._embed(E), E @ raw.encoder_.x_rotations_)
    np.testing.assert_allclose(centred._embed(E), centred.encoder_.transform(E))
    assert not np.allclose(raw.predict(X), centred.predict(X))


def test_too_many_components_are_capped_with_a_warning(hcp100):
    sub = hcp100.subset(np.arange(8))
    c = Connectome(sub.regions, sub.expression.iloc[:, :5], sub.connectivity)
    X, y = make_pairs(c)
    with pytest.warns(UserWarning, match="n_components=25"):
        model = PLSBilinearRegressor(alpha=1.0).fit(X, y)
    assert model.n_components_ == 5
    assert np.isfinite(model.predict(X)).all()


def test_pickle_round_trip(ukbb100):
    X, y = make_pairs(ukbb100)
    model = PLSBilinearRegressor(6, random_state=0).fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), model.predict(X))
    assert model.decoder_.cv_results_ is not None


@pytest.mark.parametrize(
    ("dataset", "split", "minimum"),
    [
        ("ukbb100", "random", 0.356),
        ("ukbb100", "spatial", 0.361),
        ("hcp100", "random", 0.489),
        ("hcp100", "spatial", 0.369),
    ],
)
def test_default_reaches_the_published_protocol_floor(dataset, split, minimum, request):
    c = request.getfixturevalue(dataset)
    scores = protocol_scores(c, lambda s: PLSBilinearRegressor(random_state=s), split)
    assert scores.mean() >= minimum

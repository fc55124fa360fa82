"""set_output(transform="pandas") on every region transformer, on hcp_schaefer100."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconn.models import ConnectomeModelRegressor
from skconn.pairs import RegionPairs, make_pairs
from skconn.preprocessing import (
    GeneOrder,
    GeneSelector,
    RegionImputer,
    RegionPCA,
    RegionTransformer,
    RobustSigmoidScaler,
)

DENSE = {
    "pca": lambda: RegionPCA(5, random_state=0),
    "scaler": lambda: RegionTransformer(StandardScaler()),
    "selector": lambda: GeneSelector(n_top_variance=20),
    "sigmoid": lambda: RobustSigmoidScaler(),
    "order": lambda: GeneOrder("expression"),
}
ALL = {**DENSE, "imputer": lambda: RegionImputer(missing=[])}


@pytest.fixture(scope="module")
def data(hcp100_small):
    X, y = make_pairs(hcp100_small)
    X, y = X[:400], y[:400]
    names = [f"{g}_i" for g in X.feature_names] + [f"{g}_j" for g in X.feature_names]
    frame = pd.DataFrame(np.asarray(X), columns=names, index=pd.RangeIndex(1000, 1400))
    return X, y, frame


@pytest.mark.parametrize("make", DENSE.values(), ids=DENSE)
def test_dense_output_is_a_frame_named_feature_i_then_feature_j(data, make):
    _, _, frame = data
    plain = make().fit(frame)
    expected = plain.transform(frame)
    pandas = make().set_output(transform="pandas").fit(frame)
    out = pandas.transform(frame)
    assert isinstance(out, pd.DataFrame)
    names = pandas.get_feature_names_out()
    assert list(out.columns) == list(names)
    half = len(names) // 2
    assert all(n.endswith("_i") for n in names[:half])
    assert [n[:-2] for n in names[:half]] == [n[:-2] for n in names[half:]]
    assert out.index.equals(frame.index)
    np.testing.assert_allclose(out.to_numpy(), expected)
    # fit_transform and clone keep the configuration
    np.testing.assert_allclose(make().set_output(transform="pandas").fit_transform(frame), out)
    assert isinstance(clone(pandas).fit(frame).transform(frame), pd.DataFrame)
    # and going back to the default gives arrays again
    assert isinstance(pandas.set_output(transform="default").transform(frame), np.ndarray)


@pytest.mark.parametrize("make", DENSE.values(), ids=DENSE)
def test_gene_names_survive_as_column_names(data, make):
    X, _, frame = data
    out = make().set_output(transform="pandas").fit(frame).transform(frame)
    from_pairs = make().fit(X).transform(X)
    if not isinstance(make(), RegionPCA):
        assert [c[:-2] for c in out.columns[: out.shape[1] // 2]] == list(from_pairs.feature_names)
        assert set(from_pairs.feature_names) <= set(X.feature_names)


@pytest.mark.parametrize("make", ALL.values(), ids=ALL)
def test_region_pairs_output_stays_region_pairs(data, make):
    X, _, _ = data
    expected = make().fit_transform(X)
    for out in (
        make().set_output(transform="pandas").fit_transform(X),
        make().set_output(transform="pandas").fit(X).transform(X),
    ):
        assert isinstance(out, RegionPairs)
        np.testing.assert_array_equal(out.feature_table, expected.feature_table)
        assert list(out.feature_names) == list(expected.feature_names)
    with config_context(transform_output="pandas"):  # the global setting too
        assert isinstance(make().fit_transform(X), RegionPairs)


def test_a_pandas_pipeline_predicts_as_the_default_one(data):
    X, y, frame = data
    steps = [RegionImputer(missing=[]), RobustSigmoidScaler(), RegionPCA(5, random_state=0)]
    model = ConnectomeModelRegressor(alpha=1.0)
    default = make_pipeline(*map(clone, steps), clone(model)).fit(X, y)
    pandas = make_pipeline(*map(clone, steps), clone(model)).set_output(transform="pandas")
    np.testing.assert_allclose(pandas.fit(X, y).predict(X), default.predict(X))
    # A dense pipeline passes named frames from step to step.
    dense = make_pipeline(RobustSigmoidScaler(), RegionPCA(5, random_state=0))
    out = dense.set_output(transform="pandas").fit_transform(frame)
    assert list(out.columns) == [f"pca{k}_i" for k in range(5)] + [f"pca{k}_j" for k in range(5)]


def test_unknown_output_is_refused(data):
    _, _, frame = data
    with pytest.raises(ValueError, match="output config"):
        RegionPCA(2).set_output(transform="xarray").fit(frame).transform(frame)

"""Gene tools as region-level transformers, fitted on training regions, on real data."""

from __future__ import annotations

import itertools
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skconn.datasets._tss import gene_order
from skconn.pairs import make_pairs
from skconn.preprocessing import (
    GeneOrder,
    GeneSelector,
    RegionPCA,
    RobustSigmoidScaler,
    differential_stability,
)

from ..utils.conformance import even_width, expected_failed_checks
from .test_region import _region_fold_cv


@parametrize_with_checks(
    [even_width(est) for est in [
        GeneSelector(n_top_variance=1),
        RobustSigmoidScaler(),
        GeneOrder("expression"),  # "tss" needs gene names, which the checks' arrays lack
        GeneOrder("hierarchical"),
        GeneOrder("kmeans_bins", bin_size=2, random_state=0),
    ]],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_conformance(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def pairs(hcp100):
    return make_pairs(hcp100)


@pytest.fixture(scope="module")
def split(pairs, hcp100):
    """Training pairs (both regions among 80 random regions) and those regions."""
    X, y = pairs
    train_regions = np.sort(np.random.default_rng(0).permutation(hcp100.n_regions)[:80])
    mask = np.isin(X.pairs, train_regions).all(axis=1)
    return X[mask], y[mask], train_regions


def test_gene_list_and_top_variance_on_training_regions(split, hcp100):
    train, _, regions = split
    wanted = ["PVALB", "SST", "NOT_A_GENE", "RORB"]
    selector = GeneSelector(genes=wanted).fit(train)
    assert selector.transform(train).feature_names.tolist() == [
        g for g in hcp100.genes if g in wanted
    ]
    top = GeneSelector(n_top_variance=25).fit(train)
    variance = hcp100.expression.iloc[regions].var(axis=0, ddof=0)
    expected = set(variance.sort_values(ascending=False).index[:25])
    assert set(top.transform(train).feature_names) == expected
    assert top.support_.sum() == 25
    # all regions' variance picks other genes: the selection saw training regions only
    everywhere = set(hcp100.expression.var(axis=0, ddof=0).sort_values().index[-25:])
    assert expected != everywhere
    Xt = top.transform(train)
    np.testing.assert_array_equal(
        Xt.region_features(), hcp100.expression.to_numpy()[:, top.support_]
    )
    with pytest.raises(ValueError, match="none of the 1 requested genes"):
        GeneSelector(genes=["NOT_A_GENE"]).fit(train)


@pytest.fixture(scope="module")
def donors(hcp100):
    """Three donor tables: the real expression plus donor noise, one region uncovered."""
    rng = np.random.default_rng(3)
    values = hcp100.expression.to_numpy()
    tables = {}
    for k, noise in enumerate([0.05, 0.1, 0.4]):
        table = pd.DataFrame(
            values + noise * rng.normal(size=values.shape),
            index=hcp100.labels,
            columns=hcp100.genes,
        )
        table.iloc[k] = np.nan  # this donor has no sample there
        tables[f"donor{k}"] = table
    return tables


def test_differential_stability_matches_abagen(donors, split, hcp100):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from abagen.correct import keep_stable_genes
    _, _, regions = split
    labels = hcp100.labels[regions]
    restricted = [t.loc[labels] for t in donors.values()]
    _, expected = keep_stable_genes(
        restricted, threshold=0, percentile=False, return_stability=True
    )
    ours = differential_stability(donors, labels)
    np.testing.assert_allclose(ours.to_numpy(), expected, atol=1e-12)
    # one gene by hand: each donor's values ranked over the regions it covers, then
    # Pearson over the regions both cover (abagen's definition), averaged over pairs
    gene = hcp100.genes[7]
    pairs = [("donor0", "donor1"), ("donor0", "donor2"), ("donor1", "donor2")]
    rhos = []
    for a, b in pairs:
        ranks = pd.concat(
            [donors[a].loc[labels, gene].rank(), donors[b].loc[labels, gene].rank()], axis=1
        ).dropna()
        rhos.append(np.corrcoef(ranks.to_numpy().T)[0, 1])
    assert ours[gene] == pytest.approx(np.mean(rhos), abs=1e-12)
    # with every region covered by both donors that is Spearman's rho
    full = {k: t.loc[labels[3:]] for k, t in donors.items()}
    rho = np.mean([spearmanr(full[a][gene], full[b][gene])[0] for a, b in pairs])
    assert differential_stability(full)[gene] == pytest.approx(rho, abs=1e-12)


def test_stability_selection_on_training_regions(donors, split, hcp100):
    train, _, regions = split
    selector = GeneSelector(stability=donors, min_stability=0.5).fit(train)
    expected = differential_stability(donors, hcp100.labels[regions])
    pd.testing.assert_series_equal(selector.stability_, expected)
    kept = expected.index[expected >= 0.5]
    assert 0 < len(kept) < hcp100.n_genes
    assert selector.transform(train).feature_names.tolist() == kept.tolist()
    precomputed = GeneSelector(stability=expected, min_stability=0.5).fit(train)
    assert precomputed.transform(train).feature_names.tolist() == kept.tolist()
    both = GeneSelector(stability=expected, min_stability=0.5, n_top_variance=10).fit(train)
    assert set(both.transform(train).feature_names) <= set(kept)


def test_donor_tables_must_be_indexed_by_the_region_labels(donors, split, hcp100):
    train, _, regions = split
    by_position = {k: t.reset_index(drop=True) for k, t in donors.items()}  # e.g. atlas order
    with pytest.raises(ValueError, match=r"share 0 of the 80 training regions.*region labels"):
        GeneSelector(stability=by_position).fit(train)
    # one shared training region is not enough either (stability needs two)
    one = {k: t.iloc[[regions[5]]] for k, t in donors.items()}
    one["donor0"] = donors["donor0"].iloc[[regions[5], regions[6]]]
    with pytest.raises(ValueError, match=r"share 1 of the 80 training regions"):
        GeneSelector(stability=one, min_stability=-1).fit(train)
    # two shared training regions suffice
    two = {k: t.iloc[[regions[5], regions[6]]] for k, t in donors.items()}
    assert GeneSelector(stability=two, min_stability=-1).fit(train).stability_.notna().all()


def _srs_by_hand(values):
    median = np.median(values, axis=0)
    q75, q25 = np.percentile(values, [75, 25], axis=0)
    sigmoid = 1 / (1 + np.exp(-(values - median) / ((q75 - q25) / 1.3489795003921634)))
    return sigmoid, sigmoid.min(axis=0), sigmoid.max(axis=0)


def test_robust_sigmoid_is_abagens_srs_on_training_regions(split, hcp100):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from abagen.correct import normalize_expression
    train, _, regions = split
    scaler = RobustSigmoidScaler().fit(train)
    out = scaler.transform(train).region_features()
    training = hcp100.expression.iloc[regions]
    abagen_srs = normalize_expression(training, norm="srs")
    np.testing.assert_allclose(out[regions], abagen_srs.to_numpy(), atol=1e-12)
    # the other regions use the training median, IQR and range
    _, low, high = _srs_by_hand(training.to_numpy())
    values = hcp100.expression.to_numpy()
    inner = scaler.transformer_
    sigmoid = 1 / (1 + np.exp(-(values - inner.median_) / inner.scale_))
    np.testing.assert_allclose(out, (sigmoid - low) / (high - low), atol=1e-12)
    test = np.setdiff1d(np.arange(hcp100.n_regions), regions)
    assert (out[test] < 0).any() or (out[test] > 1).any()  # not refitted on test regions
    clipped = RobustSigmoidScaler(clip=True).fit(train).transform(train).region_features()
    assert clipped.min() == 0 and clipped.max() == 1


def test_gene_orders(split, hcp100):
    train, _, regions = split
    genes = hcp100.genes
    training = hcp100.expression.iloc[regions].to_numpy()
    tss = GeneOrder("tss").fit(train)
    np.testing.assert_array_equal(tss.order_, gene_order(genes, "tss"))
    assert tss.transform(train).feature_names.tolist() == genes[tss.order_].tolist()
    by_mean = GeneOrder("expression").fit(train)
    np.testing.assert_array_equal(by_mean.order_, np.argsort(training.mean(axis=0), kind="stable"))
    first = GeneOrder("random", random_state=4).fit(train).order_
    np.testing.assert_array_equal(first, GeneOrder("random", random_state=4).fit(train).order_)
    assert not np.array_equal(first, np.arange(len(genes)))
    explicit = GeneOrder(genes[::-1].tolist()).fit(train)
    np.testing.assert_array_equal(explicit.order_, np.arange(len(genes))[::-1])
    Xt = explicit.transform(train)
    np.testing.assert_array_equal(Xt.region_features(), hcp100.expression.to_numpy()[:, ::-1])


def test_dense_input_names_genes_by_its_pair_columns(split, hcp100):
    """A DataFrame with <gene>_i/<gene>_j columns (the dense export's names) names its genes."""
    train, _, _ = split
    columns = [f"{g}_i" for g in hcp100.genes] + [f"{g}_j" for g in hcp100.genes]
    dense = pd.DataFrame(np.asarray(train), columns=columns)
    tss = GeneOrder("tss").fit(dense)
    np.testing.assert_array_equal(tss.order_, GeneOrder("tss").fit(train).order_)
    assert not np.array_equal(tss.order_, np.arange(hcp100.n_genes))
    ordered = hcp100.genes[tss.order_]
    assert tss.get_feature_names_out().tolist() == [f"{g}_i" for g in ordered] + [
        f"{g}_j" for g in ordered
    ]
    wanted = ["PVALB", "SST", "NOT_A_GENE", "RORB"]
    selector = GeneSelector(genes=wanted).fit(dense)
    np.testing.assert_array_equal(selector.support_, GeneSelector(genes=wanted).fit(train).support_)
    np.testing.assert_array_equal(
        selector.transform(dense),
        np.asarray(GeneSelector(genes=wanted).fit(train).transform(train)),
    )


def test_name_based_criteria_refuse_a_plain_matrix(split, hcp100):
    train, _, _ = split
    plain = np.asarray(train)
    for named in (
        pd.DataFrame(plain),  # integer column names
        pd.DataFrame(plain, columns=[f"{g}_{side}" for side in "LR" for g in hcp100.genes]),
    ):
        with pytest.raises(ValueError, match=r"GeneOrder\('tss'\) works on gene names"):
            GeneOrder("tss").fit(named)
    with pytest.raises(ValueError, match=r"GeneOrder\('tss'\) works on gene names.*<gene>_i"):
        GeneOrder("tss").fit(plain)
    with pytest.raises(ValueError, match=r"GeneOrder\(<symbols>\) works on gene names"):
        GeneOrder(hcp100.genes[::-1].tolist()).fit(plain)
    with pytest.raises(ValueError, match=r"GeneSelector\(genes=...\) works on gene names"):
        GeneSelector(genes=["GAD1"]).fit(plain)
    stability = pd.Series(0.5, index=hcp100.genes)
    with pytest.raises(ValueError, match=r"GeneSelector\(stability=...\) works on gene names"):
        GeneSelector(stability=stability).fit(plain)
    # position-based methods need no names
    reverse = np.arange(hcp100.n_genes)[::-1]
    np.testing.assert_array_equal(GeneOrder(reverse.tolist()).fit(plain).order_, reverse)
    assert GeneSelector(n_top_variance=3).fit(plain).support_.sum() == 3


def _neighbour_correlation(values, order):
    """Mean correlation over regions of genes adjacent in ``order``."""
    corr = np.corrcoef(values.T)
    return np.mean([corr[a, b] for a, b in itertools.pairwise(order)])


def test_coexpression_orders_put_coexpressed_genes_together(split, hcp100):
    train, _, regions = split
    training = hcp100.expression.iloc[regions].to_numpy()
    random_order = np.random.default_rng(0).permutation(hcp100.n_genes)
    baseline = _neighbour_correlation(training, random_order)
    tree = GeneOrder("hierarchical").fit(train)
    assert np.array_equal(np.sort(tree.order_), np.arange(hcp100.n_genes))
    assert _neighbour_correlation(training, tree.order_) > baseline + 0.3

    bins = GeneOrder("kmeans_bins", bin_size=60, random_state=0).fit(train)
    order, labels = bins.order_, bins.bins_
    assert np.array_equal(np.sort(order), np.arange(hcp100.n_genes))
    sizes = np.bincount(labels)
    assert sizes.tolist() == [60] * 13 + [30]  # 810 genes: contiguous SMT tokens of 60
    assert (np.diff(labels) >= 0).all()  # bins are contiguous
    corr = np.corrcoef(training[:, order].T)
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(order), dtype=bool)
    assert corr[same & off].mean() > corr[~same].mean() + 0.3


def test_pipeline_in_region_cross_validation(pairs, hcp100):
    X, y = pairs
    cv = _region_fold_cv(X, hcp100.n_regions)
    pipe = Pipeline(
        [
            ("select", GeneSelector(n_top_variance=200)),
            ("scale", RobustSigmoidScaler()),
            ("order", GeneOrder("expression")),
            ("pca", RegionPCA(10, random_state=0)),
            ("ridge", Ridge()),
        ]
    )
    result = cross_validate(pipe, X, y, cv=cv, return_estimator=True, error_score="raise")
    assert np.isfinite(result["test_score"]).all()
    for (train, _), fitted in zip(cv, result["estimator"], strict=True):
        regions = np.unique(X.pairs[train])
        variance = hcp100.expression.iloc[regions].var(axis=0, ddof=0)
        chosen = fitted.named_steps["select"].transform(X[train]).feature_names
        assert set(chosen) == set(variance.sort_values(ascending=False).index[:200])
    search = GridSearchCV(pipe, {"select__n_top_variance": [50, 200]}, cv=cv[:2]).fit(X, y)
    assert search.best_params_["select__n_top_variance"] in (50, 200)
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    np.testing.assert_allclose(restored.predict(X[:20]), search.predict(X[:20]))
    assert clone(pipe).get_params()["order__method"] == "expression"


def test_genes_must_match_between_fit_and_transform(pairs, hcp100):
    X, _ = pairs
    selector = GeneSelector(n_top_variance=5).fit(X)
    renamed = X.with_features(X.region_features(), [f"g{k}" for k in range(X.n_features)])
    with pytest.raises(ValueError, match="differ from those seen in fit"):
        selector.transform(renamed)
    with pytest.raises(ValueError, match="expecting"):
        selector.transform(GeneSelector(n_top_variance=5).fit_transform(X))

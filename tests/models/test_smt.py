"""SMTRegressor: architecture (REFERENCE §3.6), ALiBi, distinct-region encoding, gene
order, attention maps, persistence and learning on real data."""

import math
import pickle

import joblib
import matplotlib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from skconn.datasets._tss import gene_order
from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit
from skconn.models.smt import (
    ALiBiEncoderBlock,
    SMTModule,
    SMTRegressor,
    alibi_slopes,
)
from skconn.pairs import make_pairs
from skconn.plotting import plot_attention_maps

from ..utils.conformance import even_width
from .test_mlp import NEURAL_EXPECTED_FAILED, assert_learns_over_a_repetition

matplotlib.use("Agg")
torch.set_num_threads(1)

TINY = dict(
    module__token_size=20,
    module__d_model=16,
    module__n_heads=2,
    module__n_layers=1,
    module__output_dim=4,
    module__hidden_dims=(32,),
)


def tiny_smt(**kwargs):
    params = dict(TINY, max_epochs=2, batch_size=256, random_state=0, device="cpu")
    params.update(kwargs)
    return SMTRegressor(**params)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@parametrize_with_checks(
    [even_width(tiny_smt(module__token_size=2, module__d_model=8, batch_size=64))],
    expected_failed_checks=lambda est: NEURAL_EXPECTED_FAILED,
)
def test_sklearn_conformance(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"token_size": 60}, 2_162_315),
        ({"token_size": 60, "use_cls": True}, 2_173_067),
        ({"token_size": 20, "use_cls": True}, 4_686_987),
        ({"token_size": 20}, 4_676_235),
        ({"token_size": 180}, 1_337_995),
    ],
)
def test_parameter_counts_match_the_reference(kwargs, expected):
    model = SMTModule(7380, **kwargs)
    assert n_params(model) == expected
    if kwargs == {"token_size": 60}:
        assert n_params(model.encoder) == 736_138
        assert n_params(model.head) == 1_426_177
        assert n_params(model.encoder.layers[0]) == 181_760


def test_alibi_slopes_and_bias():
    assert alibi_slopes(4).tolist() == [1, 1, 0.5, 0.5]
    assert alibi_slopes(2).tolist() == [1, 0.5]
    assert alibi_slopes(4, "press").tolist() == [0.25, 0.0625, 0.015625, 0.00390625]
    with pytest.raises(ValueError, match="alibi"):
        alibi_slopes(4, "other")
    enc = SMTModule(100, token_size=20, d_model=16, n_heads=4, use_cls=True).encoder
    bias = enc.alibi_bias
    assert bias.shape == (4, 6, 6)
    assert bias[0, 0, 5] == -5 and bias[2, 0, 5] == -2.5 and bias[3, 4, 1] == -1.5
    assert SMTModule(100, token_size=20, alibi=None).encoder.alibi_bias is None


def test_explicit_attention_equals_sdpa_and_uses_alibi():
    torch.manual_seed(0)
    block = ALiBiEncoderBlock(16, 4, 0.0).eval()
    x = torch.randn(3, 7, 16)
    pos = torch.arange(7.0)
    bias = -alibi_slopes(4)[:, None, None] * (pos[None] - pos[:, None]).abs()
    fast, none = block(x, bias)
    slow, w = block(x, bias, need_weights=True)
    assert none is None
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)
    q, k, _ = block.qkv(x).view(3, 7, 3, 4, 4).permute(2, 0, 3, 1, 4).unbind(0)
    expected = ((q @ k.transpose(-2, -1)) / math.sqrt(4) + bias).softmax(-1)
    torch.testing.assert_close(w, expected)
    _, plain = block(x, None, need_weights=True)
    assert not torch.allclose(w, plain)


def test_bf16_autocast_path_runs():
    # the CUDA path runs under bf16 autocast; the same code must accept bf16 q/k/v
    model = SMTModule(50, token_size=8, d_model=16, n_heads=2, n_layers=1, hidden_dims=(8,))
    model.eval()
    feats = torch.rand(5, 50)
    left, right = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(feats, left, right)
    ref = model(feats, left, right)
    assert out.shape == (3,)
    torch.testing.assert_close(out.float(), ref, rtol=0.1, atol=0.1)


def test_distinct_region_encoding_matches_per_slot(hcp100_small):
    X, y = make_pairs(hcp100_small)
    model = tiny_smt(module__use_cls=False).fit(X, y)
    dataset = model.get_dataset(X[:300])
    batch, _ = dataset.batch(np.arange(300))
    module = model.module_.eval()
    with torch.no_grad():
        distinct = module(**batch.inputs)
        module.encode_distinct = False
        per_slot = module(**batch.inputs)
        module.encode_distinct = True
    torch.testing.assert_close(distinct, per_slot, rtol=1e-5, atol=1e-6)
    assert batch.inputs["features"].shape[0] <= len(np.unique(X[:300].pairs))


def test_tokens_pad_instead_of_dropping_genes():
    model = SMTModule(10, token_size=4, d_model=8, n_heads=2, n_layers=1, hidden_dims=(4,)).eval()
    assert model.encoder.n_tokens == 3
    genes = torch.rand(2, 10)
    z = model.encoder(genes)
    genes2 = genes.clone()
    genes2[:, -1] += 1.0  # the last gene sits in the padded token
    assert not torch.allclose(z, model.encoder(genes2))
    assert z.shape == (2, 3 * 10)


def test_gene_order_is_applied(hcp100_small):
    X, y = make_pairs(hcp100_small)
    model = tiny_smt(max_epochs=1).fit(X, y)
    np.testing.assert_array_equal(model.gene_order_, gene_order(X.feature_names))
    assert model.n_genes_without_tss_ == (~np.isin(X.feature_names, _tss_symbols())).sum()
    batch, _ = model.get_dataset(X[:1]).batch([0])
    i = X.pairs[0, 0]
    row = batch.inputs["features"][batch.inputs["left"][0]].numpy()
    np.testing.assert_allclose(row, X.region_features([i])[0, model.gene_order_], rtol=1e-6)
    a = tiny_smt(gene_order="random", max_epochs=1).fit(X, y).gene_order_
    b = tiny_smt(gene_order="random", max_epochs=1).fit(X, y).gene_order_
    np.testing.assert_array_equal(a, b)
    expr = tiny_smt(gene_order="expression", max_epochs=1).fit(X, y).gene_order_
    means = X.region_features(X.unique_regions()).mean(axis=0)
    assert np.all(np.diff(means[expr]) >= 0)
    explicit = list(X.feature_names[::-1])
    fitted = tiny_smt(gene_order=explicit, max_epochs=1).fit(X, y)
    np.testing.assert_array_equal(fitted.gene_order_, np.arange(X.n_features)[::-1])


def _tss_symbols():
    from skconn.datasets._tss import load_gene_tss

    return load_gene_tss().index


@pytest.mark.parametrize(
    "dataset, split, use_cls",
    [("hcp100", "random", False), ("hcp100", "spatial", True)],
)
def test_learns_on_held_out_regions(request, dataset, split, use_cls):
    connectome = request.getfixturevalue(dataset)
    X, y = make_pairs(connectome)
    cv = (RandomRegionSplit if split == "random" else SpatialRegionSplit)(4, random_state=1)
    train, test = next(cv.split(X))
    model = SMTRegressor(
        use_cls=use_cls,
        **dict(TINY, module__token_size=30, module__d_model=32),
        lr=1e-3,
        max_epochs=6,
        batch_size=128,  # ~50 steps per epoch: BatchNorm running statistics settle
        patience=4,
        random_state=0,
        device="cpu",
    ).fit(X[train], y[train])
    pred = model.predict(X[test])
    r = np.corrcoef(pred, y[test])[0, 1]
    mse = np.mean((pred - y[test]) ** 2)
    baseline = np.mean((y[test] - y[train].mean()) ** 2)
    assert r > 0.35, r
    assert mse < 0.9 * baseline, (mse, baseline)


@pytest.mark.parametrize("split, use_cls", [("random", False), ("spatial", True)])
def test_learns_on_held_out_regions_of_ukbb(ukbb100, split, use_cls):
    # as the MLP's ukbb test: every fold of a repetition, the best of 25 epochs restored
    model = SMTRegressor(
        use_cls=use_cls, **dict(TINY, module__token_size=30, module__d_model=32), lr=3e-4,
        max_epochs=25, batch_size=128, patience=25, random_state=0, device="cpu",
    )
    assert_learns_over_a_repetition(model, ukbb100, split)


def test_grid_search_over_d_model(hcp100_small):
    X, y = make_pairs(hcp100_small)
    search = GridSearchCV(
        tiny_smt(max_epochs=1),
        {"module__d_model": [8, 16]},
        cv=RandomRegionSplit(3, random_state=0),
    ).fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert search.best_estimator_.module_.encoder.input_projection.out_features in (8, 16)
    assert clone(search.best_estimator_).get_params()["module__d_model"] in (8, 16)


def test_attention_maps_and_plot(hcp100_small):
    X, y = make_pairs(hcp100_small)
    model = tiny_smt(use_cls=True, module__n_layers=2).fit(X, y)
    sub = X[np.isin(X.pairs, np.arange(6)).all(axis=1)]
    maps = model.attention_maps(sub, per_region=True)
    L = model.module_.encoder.n_tokens
    assert L == math.ceil(X.n_features / 20) + 1
    assert maps["per_region"].shape == (6, 2, L, L)
    assert maps["heads"].shape == (2, L, L) and maps["mean"].shape == (L, L)
    np.testing.assert_allclose(maps["per_region"].sum(axis=-1), 1, rtol=1e-5)
    np.testing.assert_array_equal(np.sort(maps["regions"]), np.arange(6))
    # the maps come from the forward computation: recompute layer 0 by hand (ALiBi included)
    enc = model.module_.encoder
    batch, _ = model.get_dataset(sub).batch(np.arange(len(sub)))
    with torch.no_grad():
        x = enc.tokens(batch.inputs["features"], batch.inputs["coords"])
        block = enc.layers[0]
        q, k, _ = block.qkv(x).view(len(x), L, 3, 2, 8).permute(2, 0, 3, 1, 4).unbind(0)
        w = ((q @ k.transpose(-2, -1)) / math.sqrt(8) + enc.alibi_bias).softmax(-1)
    first = model.attention_maps(sub, layer=0, per_region=True)["per_region"]
    np.testing.assert_allclose(first, w.numpy(), rtol=1e-4, atol=1e-6)
    fig = plot_attention_maps(maps, title="six regions")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) >= 3
    with pytest.raises(TypeError, match="RegionPairs"):
        model.attention_maps(np.asarray(sub))


def test_clamp_and_cls_coordinates(hcp100_small):
    X, y = make_pairs(hcp100_small)
    model = tiny_smt(module__clamp=(-0.01, 0.01), max_epochs=1).fit(X, y)
    assert np.abs(model.predict(X)).max() <= 0.01 + 1e-7
    cls = tiny_smt(use_cls=True, max_epochs=1).fit(X, y)
    np.testing.assert_allclose(
        cls.module_.encoder.coord_mean.numpy(), X.coords.mean(axis=0), rtol=1e-5
    )
    with pytest.raises(ValueError, match="use_cls=True needs region coordinates"):
        tiny_smt(use_cls=True, max_epochs=1).fit(np.asarray(X), y)


def test_persistence_round_trips(hcp100_small, tmp_path):
    X, y = make_pairs(hcp100_small)
    model = tiny_smt(use_cls=True).fit(X, y)
    pred = model.predict(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), pred)
    joblib.dump(model, tmp_path / "smt.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "smt.joblib").predict(X), pred)
    model.save_params(f_params=tmp_path / "w.pt")
    state = torch.load(tmp_path / "w.pt", weights_only=True)
    twin = tiny_smt(use_cls=True)
    twin.n_features_in_ = model.n_features_in_
    twin.gene_order_ = model.gene_order_
    twin.initialize()
    twin.module_.load_state_dict(state)
    np.testing.assert_allclose(twin.predict(X), pred, rtol=1e-6, atol=1e-7)


def test_region_block_batches_cover_every_pair_once(hcp100_small):
    from skconn.models._pair_data import PairBatches

    X, y = make_pairs(hcp100_small)
    dataset = tiny_smt(max_epochs=1).fit(X, y).get_dataset(X, y)
    batches = PairBatches(
        dataset, 128, shuffle=True, rng=np.random.default_rng(0), region_blocks=True
    )._plan()
    seen = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(seen), np.arange(len(X)))
    k = int(np.sqrt(128 / 2))
    for idx in batches:
        assert len(np.unique(np.r_[dataset.left[idx], dataset.right[idx]])) <= 2 * k
        assert len(idx) >= 2
    model = tiny_smt(batching="region_blocks", max_epochs=2).fit(X, y)
    assert np.isfinite(model.predict(X)).all()
    with pytest.raises(ValueError, match="batching"):
        tiny_smt(batching="blocks").fit(X, y)


def test_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    model = SMTModule(40, token_size=8, d_model=16, n_heads=2, n_layers=2, hidden_dims=(8,))
    model.eval()  # no dropout: both passes see the same function
    feats = torch.rand(6, 40)
    left, right = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 0, 1])
    grads = []
    for flag in (False, True):
        model.zero_grad()
        model.encoder.checkpoint = flag
        model(feats, left, right).sum().backward()
        grads.append([p.grad.clone() for p in model.encoder.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)


def test_autocast_true_trains_and_predicts_in_bf16_on_cpu(hcp100_small):
    # the estimator-level bf16 path (fit, early stopping, predict, pickle, attention maps)
    # that CUDA runs by default; autocast=True runs it on the CPU, so it is tested here
    X, y = make_pairs(hcp100_small)
    model = tiny_smt(use_cls=True, autocast=True, max_epochs=2)
    assert model.fit(X, y)._autocast_enabled()
    trained = pickle.loads(pickle.dumps(model))
    seen = []
    qkv = model.module_.encoder.layers[0].qkv
    hook = qkv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    pred = model.predict(X)
    assert seen and set(seen) == {torch.bfloat16}
    seen.clear()
    model.partial_fit(X, y)  # one more epoch, training in bf16 too
    hook.remove()
    assert seen and set(seen) == {torch.bfloat16}
    model = trained
    assert pred.dtype == np.float64 and np.isfinite(pred).all()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(X), pred)
    fp32 = pickle.loads(pickle.dumps(model)).set_params(autocast=False)
    assert not fp32._autocast_enabled()
    # same weights in fp32: bf16 keeps ~3 significant digits
    np.testing.assert_allclose(fp32.predict(X), pred, atol=0.05 * np.ptp(pred) + 1e-3)
    assert not np.array_equal(fp32.predict(X), pred)
    maps = model.attention_maps(X[:50])
    np.testing.assert_allclose(maps["mean"].sum(axis=-1), 1, rtol=1e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_with_bf16_autocast(hcp100_small):
    X, y = make_pairs(hcp100_small)
    model = tiny_smt(use_cls=True, device="auto", max_epochs=2).fit(X, y)
    assert model.device == "cuda" and model._autocast_enabled()
    assert next(model.module_.parameters()).device.type == "cuda"
    pred = model.predict(X)
    assert np.isfinite(pred).all() and pred.dtype == np.float64
    np.testing.assert_allclose(pickle.loads(pickle.dumps(model)).predict(X), pred, atol=1e-6)
    maps = model.attention_maps(X[:50])
    np.testing.assert_allclose(maps["mean"].sum(axis=-1), 1, rtol=1e-4)
    fp32 = tiny_smt(use_cls=True, device="cuda", autocast=False, max_epochs=1).fit(X, y)
    assert not fp32._autocast_enabled()


def test_output_init_starts_at_the_training_mean(hcp100_small):
    X, y = make_pairs(hcp100_small)
    frozen = tiny_smt(lr=0.0, max_epochs=1).fit(X, y)
    np.testing.assert_allclose(frozen.predict(X), y[frozen.train_pairs_].mean(), rtol=1e-6)
    assert np.std(tiny_smt(lr=0.0, max_epochs=1, output_init="torch").fit(X, y).predict(X)) > 1e-3


def test_warm_start_keeps_the_gene_order_and_attention_layer_errors(hcp100_small):
    X, y = make_pairs(hcp100_small)
    first = np.isin(X.pairs, np.arange(20)).all(axis=1)
    second = np.isin(X.pairs, np.arange(20, 38)).all(axis=1)
    model = tiny_smt(warm_start=True, gene_order="expression", max_epochs=1)
    model.fit(X[first], y[first])
    order = model.gene_order_.copy()
    assert not np.array_equal(order, gene_order(  # the second regions would reorder
        X.feature_names, "expression", expression=X.region_features()[20:38]))
    model.fit(X[second], y[second])
    np.testing.assert_array_equal(model.gene_order_, order)
    assert len(model.history) == 2
    with pytest.raises(ValueError, match="features"):
        model.fit(X.with_features(X.region_features()[:, :-1], X.feature_names[:-1]), y)
    with pytest.raises(ValueError, match=r"layer must be an int in \[-1, 1\)"):
        model.attention_maps(X[first], layer=5)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        model.attention_maps(X[first], batch_size=0)


def test_autocast_predictions_are_not_quantised(hcp100):
    # with a bf16 output layer this predicted 87 distinct values for 812 test pairs
    X, y = make_pairs(hcp100)
    train, test = next(RandomRegionSplit(4, random_state=0).split(X))
    model = SMTRegressor(autocast=True, max_epochs=3, module__d_model=32, random_state=0,
                         device="cpu")
    pred = model.fit(X[train], y[train]).predict(X[test])
    assert model._autocast_enabled()
    assert np.isfinite(pred).all()
    assert len(np.unique(pred)) >= 0.95 * len(test)

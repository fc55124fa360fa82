"""Every skconn object that draws random numbers (or could), as ``name -> f(seed) -> output``.

Each entry runs one estimator, transformer, splitter or null generator on a small real
subset of hcp_schaefer100 (29 regions: 25 cortical + 4 subcortical, 60 genes) with
``random_state=seed`` and returns arrays: predictions, transformed features, fold indices,
permutations. :func:`digests` hashes them bit for bit, so the determinism test can
compare them across processes without shipping arrays around.

:data:`SEED_INDEPENDENT` lists the entries whose output does not depend on the seed, each
with the reason; every other entry must give different output for different seeds.

Run as a script (``python -m tests.reliability._registry 0 1``) to print the digests as
JSON: ``{name: {seed: sha256}}``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

_BESIDE_REPO = Path(__file__).resolve().parents[3] / "shared" / "data"
SHARED_DATA = Path(os.environ.get("SKCONN_SHARED_DATA", _BESIDE_REPO))

# Tiny networks: two epochs on CPU (the determinism contract is for CPU).
MLP_PARAMS = dict(
    module__hidden_dims=(16,), module__dropout=0.2, max_epochs=2, batch_size=128,
    device="cpu",
)
SMT_PARAMS = dict(
    module__token_size=20, module__d_model=16, module__n_heads=2, module__n_layers=1,
    module__output_dim=4, module__hidden_dims=(16,), max_epochs=2, batch_size=128,
    device="cpu",
)


@functools.cache
def hcp100():
    from skconn.datasets import load_connectome

    return load_connectome(SHARED_DATA / "hcp_schaefer100")


@functools.cache
def small():
    """29 real regions (every 4th of hcp_schaefer100, 4 of them subcortical) x 60 genes."""
    from skconn.datasets import Connectome

    sub = hcp100().subset(np.arange(0, hcp100().n_regions, 4))
    return Connectome(sub.regions, sub.expression.iloc[:, :60], sub.connectivity, name="small")


@functools.cache
def pairs():
    """(X, y, train, test): the pairs of :func:`small` and one region fold of them."""
    from skconn.model_selection import RandomRegionSplit
    from skconn.pairs import make_pairs

    X, y = make_pairs(small())
    train, test = next(RandomRegionSplit(4, random_state=0).split(X))
    return X, y, train, test


def _fit_predict(estimator):
    X, y, train, test = pairs()
    return estimator.fit(X[train], y[train]).predict(X[test])


def _cortex():
    from skconn.nulls import hemisphere_ids, sphere_coords

    c = small()
    ctx = (c.regions["structure"] == "cortex").to_numpy()
    hemi = hemisphere_ids(c.regions)[ctx]
    return sphere_coords(c.coords[ctx], hemi), hemi


def _folds(cv, X):
    return tuple(np.concatenate([tr, te]) for tr, te in cv.split(X))


# ----------------------------------------------------------------------------- estimators
def exp_decay(seed):
    from skconn.models import ExpDecayRegressor

    return _fit_predict(ExpDecayRegressor())


def connectome_model(seed):
    from skconn.models import ConnectomeModelRegressor

    # automatic penalty: the seed shuffles the inner region folds of the alpha search
    model = ConnectomeModelRegressor(random_state=seed)
    pred = _fit_predict(model)
    return pred, np.asarray(model.cv_results_["mean_score"])


def low_rank(seed):
    from skconn.models import LowRankBilinearRegressor

    return _fit_predict(LowRankBilinearRegressor(rank=2, max_iter=50, random_state=seed))


def pls_bilinear(seed):
    from skconn.models import PLSBilinearRegressor

    model = PLSBilinearRegressor(n_components=3, random_state=seed)
    pred = _fit_predict(model)
    return pred, np.asarray(model.decoder_.cv_results_["mean_score"])


def pair_mlp(seed):
    from skconn.models import PairMLPRegressor

    return _fit_predict(PairMLPRegressor(**MLP_PARAMS, random_state=seed))


def pair_mlp_region_blocks(seed):
    from skconn.models import PairMLPRegressor

    model = PairMLPRegressor(
        **MLP_PARAMS, module__use_coords=True, batching="region_blocks", refit_all=True,
        random_state=seed,
    )
    return _fit_predict(model)


def _augmented_mlp(net_seed, augment_seed):
    from skconn.models import PairMLPRegressor, TargetAugmentation

    fc = small().connectivity
    subjects = fc + np.random.default_rng(0).normal(0, 0.1, (4, *fc.shape))
    subjects = (subjects + subjects.transpose(0, 2, 1)) / 2
    augment = TargetAugmentation(subjects, p=0.5, style="constant", random_state=augment_seed)
    model = PairMLPRegressor(**MLP_PARAMS, callbacks=[("augment", augment)],
                             random_state=net_seed)
    pred = _fit_predict(model)
    return pred, np.array([dict(model.callbacks_)["augment"].n_augmented_])


def pair_mlp_augment(seed):
    # TargetAugmentation without its own random_state draws from the net's seeded stream
    return _augmented_mlp(seed, None)


def target_augmentation(seed):
    # the same net seed: only the augmentation callback's random_state changes
    return _augmented_mlp(0, seed)


def smt(seed):
    from skconn.models import SMTRegressor

    return _fit_predict(SMTRegressor(**SMT_PARAMS, random_state=seed))


def smt_cls_random_genes(seed):
    from skconn.models import SMTRegressor

    model = SMTRegressor(**SMT_PARAMS, use_cls=True, gene_order="random", random_state=seed)
    return _fit_predict(model)


# ----------------------------------------------------------------------------- transformers
def region_pca(seed):
    from skconn.pairs import make_pairs
    from skconn.preprocessing import RegionPCA

    # all 810 genes: scikit-learn's "auto" solver is then the randomized SVD
    c = hcp100().subset(np.arange(0, hcp100().n_regions, 4))
    X, _ = make_pairs(c)
    return RegionPCA(n_components=5, random_state=seed).fit(X).transform(X).region_features()


def region_pca_full(seed):
    from skconn.preprocessing import RegionPCA

    X = pairs()[0]
    return RegionPCA(n_components=5, random_state=seed).fit(X).transform(X).region_features()


def gene_order_random(seed):
    from skconn.preprocessing import GeneOrder

    return GeneOrder("random", random_state=seed).fit(pairs()[0]).order_


def gene_order_kmeans(seed):
    from skconn.preprocessing import GeneOrder

    return GeneOrder("kmeans_bins", bin_size=7, random_state=seed).fit(pairs()[0]).order_


def toy_connectome(seed):
    from skconn.datasets import make_toy_connectome

    c = make_toy_connectome(8, 5, random_state=seed)
    return c.expression.to_numpy(), c.connectivity, c.coords


# ----------------------------------------------------------------------------- splitters
def random_region_split(seed):
    from skconn.model_selection import RandomRegionSplit

    return _folds(RandomRegionSplit(4, random_state=seed), pairs()[0])


def spatial_region_split(seed):
    from skconn.model_selection import SpatialRegionSplit

    return _folds(SpatialRegionSplit(4, random_state=seed), pairs()[0])


def spatial_region_split_hemi(seed):
    from skconn.model_selection import SpatialRegionSplit

    cv = SpatialRegionSplit(4, random_state=seed, hemisphere_aware=True)
    return _folds(cv, pairs()[0])


def spin_null_split(seed):
    from skconn.model_selection import RandomRegionSplit, SpinNullSplit
    from skconn.pairs import make_pairs

    perms = np.array([np.roll(np.arange(small().n_regions), k) for k in (1, 2, 3)])
    X, _ = make_pairs(small(), nulls=perms)
    return _folds(SpinNullSplit(RandomRegionSplit(3, random_state=seed)), X)


# ----------------------------------------------------------------------------- nulls
def random_rotations(seed):
    from skconn.nulls import mirror_rotations, random_rotations

    rot = random_rotations(4, random_state=seed)
    return rot, mirror_rotations(rot)


def gen_spinsamples_vasa(seed):
    from skconn.nulls import gen_spinsamples

    sphere, hemi = _cortex()
    return gen_spinsamples(sphere, hemi, 5, method="vasa", seed=seed)


def gen_spinsamples_hungarian(seed):
    from skconn.nulls import gen_spinsamples

    sphere, hemi = _cortex()
    return gen_spinsamples(sphere, hemi, 5, method="hungarian", seed=seed)


def spin_permutations(seed):
    from skconn.nulls import SpinPermutations

    sphere, hemi = _cortex()
    spins = SpinPermutations(n_rep=5, random_state=seed).fit(sphere, hemi)
    return spins.permutations_, spins.cost_, spins.rotations_


def subcortical_spins(seed):
    from skconn.nulls import hemisphere_ids, subcortical_spins

    c = hcp100()
    sub = (c.regions["structure"] == "subcortex").to_numpy()
    return subcortical_spins(c.coords[sub], hemisphere_ids(c.regions)[sub], 5,
                             random_state=seed)


def whole_brain_spins(seed):
    from skconn.nulls import whole_brain_spins

    return whole_brain_spins(small(), 5, random_state=seed)


def cge_matched_spins(seed):
    from skconn.nulls import cge_matched_spins

    best, diag = cge_matched_spins(small(), n_spins=30, k=3, random_state=seed)
    return best, np.asarray(diag["standardized_error"])


def null_test(seed):
    from skconn.model_selection import RandomRegionSplit
    from skconn.models import ConnectomeModelRegressor
    from skconn.nulls import null_test
    from skconn.pairs import make_pairs

    # nulls that swap a few regions: true - null differences of both signs, so the p-value
    # is not pinned at its minimum; 3 x 6 = 18 paired scores: above 16 the sign-flip
    # p-value is drawn from random_state
    perms = np.tile(np.arange(small().n_regions), (3, 1))
    for k, row in enumerate(perms):
        for a in range(k, 24, 4):
            row[[a, a + 1]] = row[[a + 1, a]]
    X, y = make_pairs(small(), nulls=perms)
    cvs = [RandomRegionSplit(6, random_state=s) for s in range(3)]
    res = null_test(ConnectomeModelRegressor(alpha=1.0), X, y, cv=cvs,
                    n_permutations=99, random_state=seed)
    return (res.scores["true_score"].to_numpy(), res.scores["null_score"].to_numpy(),
            np.array([res.pvalue]))


def spin_test(seed):
    from skconn.models import ConnectomeModelRegressor
    from skconn.nulls import spin_test

    X, y = pairs()[:2]
    perms = np.array([np.roll(np.arange(small().n_regions), k) for k in (1, 2, 3)])
    res = spin_test(ConnectomeModelRegressor(alpha=1.0), X, y, perms)
    return np.array([res.score, res.pvalue]), res.null_scores


#: name -> function(seed) -> array or tuple of arrays.
REGISTRY: dict[str, Callable[[int], object]] = {
    f.__name__: f
    for f in (
        exp_decay, connectome_model, low_rank, pls_bilinear, pair_mlp, pair_mlp_region_blocks,
        pair_mlp_augment, target_augmentation, smt, smt_cls_random_genes,
        region_pca, region_pca_full, gene_order_random, gene_order_kmeans, toy_connectome,
        random_region_split, spatial_region_split, spatial_region_split_hemi, spin_null_split,
        random_rotations, gen_spinsamples_vasa, gen_spinsamples_hungarian, spin_permutations,
        subcortical_spins, whole_brain_spins, cge_matched_spins, null_test, spin_test,
    )
}

#: Entries whose output is the same for every seed, and why.
SEED_INDEPENDENT: dict[str, str] = {
    "exp_decay": "ExpDecayRegressor has no random_state: a deterministic least-squares fit",
    "region_pca_full": "60 genes: scikit-learn's 'auto' PCA solver is the exact full SVD",
    "spin_test": "spin_test takes no random_state: the nulls are given, the p-value is exact",
}


def _arrays(output):
    if isinstance(output, dict):
        for key in sorted(output):
            yield from _arrays(output[key])
    elif isinstance(output, list | tuple):
        for item in output:
            yield from _arrays(item)
    else:
        yield np.asarray(output)


def digest(output) -> str:
    """sha256 over the dtype, shape and bytes of every array in ``output``."""
    h = hashlib.sha256()
    for a in _arrays(output):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def digests(seeds, names=None) -> dict[str, dict[str, str]]:
    """``{name: {str(seed): sha256}}`` for the registry entries ``names`` (default all)."""
    return {
        name: {str(s): digest(REGISTRY[name](s)) for s in seeds}
        for name in (names or REGISTRY)
    }


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    print(json.dumps(digests([int(s) for s in sys.argv[1:]])))

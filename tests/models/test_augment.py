"""Target augmentation with real subject-level FC (brainspace's individual HCP matrices)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skconn.datasets import Connectome
from skconn.models._augment import STYLES, TargetAugmentation, augmentation_probability
from skconn.models.mlp import PairMLPRegressor
from skconn.pairs import make_pairs

torch.set_num_threads(1)


def _brainspace_subjects() -> np.ndarray:
    spec = importlib.util.find_spec("brainspace")
    if spec is None:
        pytest.skip("brainspace (individual HCP matrices) not installed")
    folder = Path(spec.submodule_search_locations[0]) / "datasets/matrices/individual"
    files = sorted(folder.glob("HCP_*_schaefer_100.csv"))
    if not files:
        pytest.skip("brainspace individual Schaefer-100 matrices not found")
    return np.stack([np.loadtxt(f, delimiter=",") for f in files])


@pytest.fixture(scope="module")
def ukbb_subjects(ukbb100):
    """ukbb_schaefer100 with three real HCP subjects' Schaefer-100 FC attached."""
    subjects = _brainspace_subjects()
    iu = np.triu_indices(100, 1)
    for s in subjects:  # same parcel order: each subject tracks the group FC
        assert np.corrcoef(s[iu], ukbb100.connectivity[iu])[0, 1] > 0.4
    subjects[:, 3, 7] = subjects[:, 7, 3] = [np.nan, np.nan, 0.123]  # a missing edge
    return Connectome(
        ukbb100.regions,
        ukbb100.expression,
        ukbb100.connectivity,
        subject_connectivity=subjects,
        name="ukbb100+hcp_subjects",
    )


class _Spy(Callback):
    """Record the targets and region pairs of every training batch after augmentation."""

    def initialize(self):
        self.batches = []
        return self

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self._train = dataset_train

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        Xi, yi = batch
        if training:
            regions = self._train.pair_regions[Xi.pair_index]
            self.batches.append((regions, yi.numpy().copy(), self._train.y[Xi.pair_index]))


def _fit(connectome, aug, **kwargs):
    X, y = make_pairs(connectome)
    spy = _Spy()
    params = dict(
        module__hidden_dims=(8,), max_epochs=2, batch_size=128, random_state=0, device="cpu"
    )
    params.update(kwargs)
    net = PairMLPRegressor(callbacks=[("augment", aug), ("spy", spy)], **params).fit(X, y)
    return net, spy


def test_schedules():
    E = 10
    assert [augmentation_probability("linear_decay", 0.3, e, E) for e in (0, 5)] == [0.3, 0.15]
    assert augmentation_probability("curriculum_swap_linear_decay", 0.3, 5, E) == 0.15
    assert augmentation_probability("curriculum_swap_constant", 0.3, 9, E) == 0.3
    assert augmentation_probability("linear_peak", 0.2, 2, E) == pytest.approx(0.08)
    assert augmentation_probability("linear_peak", 0.2, 8, E) == pytest.approx(0.08)
    assert augmentation_probability("linear_increase", 0.2, 5, E) == 0.1
    with pytest.raises(ValueError, match="style"):
        augmentation_probability("cosine", 0.3, 0, E)


def test_targets_become_single_subject_values(ukbb_subjects):
    aug = TargetAugmentation.from_connectome(ukbb_subjects, p=1.0, style="constant", random_state=0)
    _, spy = _fit(ukbb_subjects, aug)
    sfc = ukbb_subjects.subject_connectivity
    assert aug.n_augmented_ == len(spy.batches) > 0
    picked = []
    for regions, y_batch, y_pop in spy.batches:
        values = sfc[:, regions[:, 0], regions[:, 1]]  # (S, B)
        match = np.isclose(values, y_batch[None, :], atol=1e-6)
        assert match.any(axis=0).all()  # every target is some subject's value of that edge
        assert not np.allclose(y_batch, y_pop)
        picked.append(match.argmax(axis=0))
    counts = np.bincount(np.concatenate(picked), minlength=3)
    assert (counts > 0.2 * counts.sum()).all()  # subjects drawn uniformly per edge
    # the edge missing in two subjects only ever takes the third subject's value
    for regions, y_batch, _ in spy.batches:
        hit = ((regions == [3, 7]) | (regions == [7, 3])).all(axis=1)
        np.testing.assert_allclose(y_batch[hit], 0.123, rtol=1e-6)


def test_curriculum_swap_draws_strong_training_edges(ukbb_subjects):
    aug = TargetAugmentation.from_connectome(
        ukbb_subjects, p=1.0, style="curriculum_swap_constant", threshold=0.3, random_state=0
    )
    _, spy = _fit(ukbb_subjects, aug, batch_size=64)
    fc = ukbb_subjects.connectivity
    for regions, _, _ in spy.batches:
        assert len(np.unique(regions, axis=0)) == len(regions)  # without replacement
        assert (np.abs(fc[regions[:, 0], regions[:, 1]]) > 0.3).all()
    too_big = TargetAugmentation.from_connectome(
        ukbb_subjects, p=1.0, style="curriculum_swap_constant", threshold=0.9
    )
    with pytest.raises(ValueError, match="curriculum augmentation needs at least"):
        _fit(ukbb_subjects, too_big)


def test_zero_probability_and_validation_untouched(ukbb_subjects):
    aug = TargetAugmentation.from_connectome(ukbb_subjects, p=0.0, style="linear_decay")
    _, spy = _fit(ukbb_subjects, aug)
    assert aug.n_augmented_ == 0
    for _, y_batch, y_pop in spy.batches:
        np.testing.assert_array_equal(y_batch, y_pop)
    decaying = TargetAugmentation.from_connectome(
        ukbb_subjects, p=1.0, style="linear_decay", random_state=0
    )
    _, spy = _fit(ukbb_subjects, decaying, max_epochs=2)
    # epoch 0 has p = 1, epoch 1 has p = 0.5: some but not all batches augmented
    assert 0 < decaying.n_augmented_ < len(spy.batches)


def test_errors(ukbb_subjects, hcp100_small):
    with pytest.raises(ValueError, match="style must be one of"):
        _fit(ukbb_subjects, TargetAugmentation(ukbb_subjects.subject_connectivity, style="x"))
    with pytest.raises(ValueError, match="covers 4 regions"):
        _fit(
            hcp100_small.subset(np.arange(5)),
            TargetAugmentation(ukbb_subjects.subject_connectivity[:, :4, :4]),
        )
    with pytest.raises(ValueError, match="no subject_connectivity"):
        TargetAugmentation.from_connectome(hcp100_small)
    X, y = make_pairs(ukbb_subjects)
    net = PairMLPRegressor(
        module__hidden_dims=(8,),
        max_epochs=1,
        callbacks=[("augment", TargetAugmentation(ukbb_subjects.subject_connectivity))],
    )
    with pytest.raises(ValueError, match="needs RegionPairs input"):
        net.fit(np.asarray(X[:200]), y[:200])
    assert set(STYLES) >= {
        "linear_decay",
        "linear_peak",
        "curriculum_swap_constant",
        "curriculum_swap_linear_decay",
    }

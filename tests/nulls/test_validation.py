"""The null generators refuse bad scalar arguments through one declarative layer: an
InvalidParameterError (a ValueError and a TypeError) naming the parameter."""

import numpy as np
import pytest

from skconn._validation import InvalidParameterError
from skconn.datasets import make_toy_connectome
from skconn.nulls import (
    cge_distance_curve,
    fit_exponential,
    gen_spinsamples,
    random_rotations,
    spun_cge_curves,
    subcortical_spins,
    whole_brain_spins,
)

_TOY = make_toy_connectome(12, 6)
_D = np.arange(2.5, 60, 5.0)


def _call(name, **bad):
    coords, hemi = _TOY.coords, (_TOY.regions["hemisphere"] == "R").astype(int).to_numpy()
    cge, dist = _TOY.cge(), _TOY.distances()
    calls = {
        "random_rotations": lambda: random_rotations(**{"n_rotations": 2, **bad}),
        "gen_spinsamples": lambda: gen_spinsamples(coords, hemi, **{"n_rotate": 2, **bad}),
        "subcortical_spins": lambda: subcortical_spins(coords, hemi, **{"n_rotate": 2, **bad}),
        "whole_brain_spins": lambda: whole_brain_spins(_TOY, **{"n_spins": 2, **bad}),
        "cge_distance_curve": lambda: cge_distance_curve(cge, dist, **bad),
        "fit_exponential": lambda: fit_exponential(_D, np.exp(-_D / 20), **bad),
        "spun_cge_curves": lambda: spun_cge_curves(cge, dist, np.arange(12)[None], **bad),
    }
    return calls[name]()


@pytest.mark.parametrize(("name", "bad"), [
    ("random_rotations", {"n_rotations": -1}),
    ("random_rotations", {"n_rotations": 2.5}),
    ("random_rotations", {"random_state": "seed"}),
    ("gen_spinsamples", {"n_rotate": 0}),
    ("gen_spinsamples", {"method": "nearest"}),
    ("gen_spinsamples", {"check_duplicates": "yes"}),
    ("subcortical_spins", {"n_rotate": 0}),
    ("subcortical_spins", {"center": "middle"}),
    ("subcortical_spins", {"method": "greedy"}),
    ("whole_brain_spins", {"n_spins": 0}),
    ("whole_brain_spins", {"subcortical_center": "middle"}),
    ("whole_brain_spins", {"method": "greedy"}),
    ("cge_distance_curve", {"bin_size": 0}),
    ("cge_distance_curve", {"bin_size": "5mm"}),
    ("fit_exponential", {"n_grid": 1}),
    ("fit_exponential", {"n_refine": -1}),
    ("spun_cge_curves", {"batch_size": 0}),
    ("spun_cge_curves", {"n_jobs": "all"}),
])
def test_bad_scalar_arguments_are_named(name, bad):
    (param, _), = bad.items()
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of {name}"):
        _call(name, **bad)


@pytest.mark.parametrize("name", ["random_rotations", "gen_spinsamples", "subcortical_spins",
                                  "whole_brain_spins", "cge_distance_curve", "fit_exponential",
                                  "spun_cge_curves"])
def test_good_arguments_still_run(name):
    assert _call(name) is not None

"""
Predicted and observed connectomes on the brain
===============================================

Fit the Connectome Model on the pairs among training regions, predict the connectivity
among held-out regions, and compare the prediction with the observed connectome on a
glass brain and as matrices ordered by hemisphere.

Regions are held out four at a time in folds (:class:`~skconn.model_selection.RandomRegionSplit`):
each fold's test pairs join two of its held-out regions, so the out-of-fold connectome covers
the pairs *within* each fold (about a quarter of all pairs) and leaves the pairs between
two different test folds blank. Both figures show the observed connectome on those same pairs.

On the embedded default dataset (68 Desikan-Killiany regions, 15,633 genes) this example
took 33 s in a documentation build on a 2-core CPU machine shared with other jobs, and 97 s
under heavier load; most of it is the Connectome Model choosing its penalty in each fold.
"""

# %%
# Out-of-fold predictions, one region fold at a time.
import matplotlib.pyplot as plt
import numpy as np

from skconn.datasets import load_default
from skconn.model_selection import RandomRegionSplit
from skconn.models import ConnectomeModelRegressor
from skconn.pairs import make_pairs
from skconn.plotting import pairs_to_matrix, plot_brain_connectomes, plot_ordered_connectomes

connectome = load_default(verbose=False)
X, y = make_pairs(connectome)
pairs, predictions = [], []
test_fold = np.empty(X.n_regions, dtype=object)
for k, (train, test) in enumerate(RandomRegionSplit(4, random_state=0).split(X)):
    test_fold[np.unique(X.pairs[test])] = f"fold {k}"
    model = ConnectomeModelRegressor(random_state=0).fit(X[train], y[train])
    pairs.append(X.pairs[test])
    predictions.append(model.predict(X[test]))
    r = np.corrcoef(y[test], predictions[-1])[0, 1]
    print(f"fold of {len(np.unique(X.pairs[test]))} regions: test r = {r:.2f}")
pairs, predictions = np.vstack(pairs), np.concatenate(predictions)
predicted = pairs_to_matrix(pairs, predictions, X.n_regions)  # (R, R), NaN between folds
observed = connectome.connectivity
print(f"out-of-fold pairs: {np.isfinite(predicted).mean():.0%} of the matrix")

# %%
# The strongest 5 % of the pairs both matrices have, at the region centroids. Nodes are
# coloured by hemisphere (Desikan-Killiany labels carry no functional network; Schaefer
# labels would colour them by network). Predicted connectivity is shrunk towards the
# mean, so each panel has its own colour scale.
fig = plot_brain_connectomes(connectome, observed, {"Connectome Model": predicted},
                             edge_threshold="95%")

# %%
# The same pairs as matrices, the regions grouped by hemisphere and, within it, by test
# fold: each fold's pairs form blocks, and the pairs between two folds (never predicted)
# are left blank in both panels.
same_pairs = np.where(np.isfinite(predicted), observed, np.nan)
fig = plot_ordered_connectomes(connectome, same_pairs, {"Connectome Model": predicted},
                               by=("hemisphere", test_fold))
plt.show()

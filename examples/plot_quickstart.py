"""
Quickstart: nested cross-validation with region splitters
=========================================================

Predict the functional connectivity of held-out regions from gene expression, choosing a
hyperparameter on an inner region split and scoring on spatially contiguous outer folds.
"""

# %%
# Region pairs from the embedded default dataset.
import matplotlib.pyplot as plt
from sklearn.model_selection import GridSearchCV, cross_validate

from skconn.datasets import load_default
from skconn.metrics import pearson_scorer
from skconn.model_selection import RandomRegionSplit, SpatialRegionSplit
from skconn.models import ExpDecayRegressor, PLSBilinearRegressor
from skconn.pairs import make_pairs

connectome = load_default(verbose=False)
X, y = make_pairs(connectome)
print(connectome, X)

# %%
# An inner grid search over PLS components (regions split at random) inside outer spatial
# folds: every test region is unseen, and so are its neighbours.
search = GridSearchCV(
    PLSBilinearRegressor(random_state=0),
    {"n_components": [5, 10, 25]},
    cv=RandomRegionSplit(3, random_state=0),
    scoring=pearson_scorer,
)
outer = SpatialRegionSplit(4, random_state=0)
expression = cross_validate(search, X, y, cv=outer, scoring=pearson_scorer)
distance = cross_validate(ExpDecayRegressor(), X, y, cv=outer, scoring=pearson_scorer)
print(f"PLS + bilinear: r = {expression['test_score'].mean():.3f}")
print(f"distance only:  r = {distance['test_score'].mean():.3f}")

# %%
# The same comparison as a figure.
fig, ax = plt.subplots(figsize=(4, 3))
ax.bar(["distance", "expression"], [distance["test_score"].mean(),
                                    expression["test_score"].mean()])
ax.set_ylabel("test Pearson r (spatial folds)")
fig.tight_layout()

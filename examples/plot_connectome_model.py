"""
The Connectome Model chooses its own penalty
============================================

``ConnectomeModelRegressor(alpha="auto")`` scores a wide path of penalties, for two
regularisers, on an inner region split, all from one SVD per split.
"""

import matplotlib.pyplot as plt

from skconn.datasets import load_default
from skconn.models import ConnectomeModelRegressor
from skconn.pairs import make_pairs

X, y = make_pairs(load_default(verbose=False))
model = ConnectomeModelRegressor(random_state=0).fit(X, y)
print(f"chosen: penalty={model.penalty_}, alpha={model.alpha_:.3g}")

res = model.cv_results_
fig, ax = plt.subplots(figsize=(5, 3.5))
for penalty in ("ridge", "kronecker"):
    mask = res["penalty"] == penalty
    ax.semilogx(res["alpha"][mask], res["mean_score"][mask], marker="o", label=penalty)
ax.axvline(model.alpha_, color="0.5", ls="--")
ax.set_xlabel("alpha")
ax.set_ylabel("inner validation r")
ax.legend()
fig.tight_layout()

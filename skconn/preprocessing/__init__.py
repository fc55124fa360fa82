"""Region-level transformers for :class:`~skconn.pairs.RegionPairs` input.

Each is fitted on the regions present in the X it is fitted on (the training
regions inside cross-validation) and returns the same pairs over a transformed
region table, so it composes with the pair estimators in a ``Pipeline``.
"""

from ._gene_tables import differential_stability
from ._genes import GeneOrder, GeneSelector, RobustSigmoidScaler
from ._impute import RegionImputer
from ._region import RegionPCA, RegionTransformer

__all__ = [
    "GeneOrder",
    "GeneSelector",
    "RegionImputer",
    "RegionPCA",
    "RegionTransformer",
    "RobustSigmoidScaler",
    "differential_stability",
]

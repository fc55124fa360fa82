"""skconn: predict functional connectivity between brain regions from what they are.

scikit-learn-compatible estimators, region splitters, spatial nulls and metrics
for modelling region-pair functional connectivity from regional gene expression
(Allen Human Brain Atlas) and MNI position.
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]

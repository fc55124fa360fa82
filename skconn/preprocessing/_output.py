"""``set_output`` for transformers whose output is a RegionPairs or a dense pair matrix."""

from __future__ import annotations

from sklearn.utils._set_output import ADAPTERS_MANAGER, _get_output_config

from ..pairs import RegionPairs

__all__ = ["PairOutputMixin"]


class PairOutputMixin:
    """``set_output`` for region-pair transformers (place before ``TransformerMixin``).

    scikit-learn's automatic output wrapping would build a DataFrame from
    whatever ``transform`` returns, and fails on a ``RegionPairs``. This mixin
    turns that wrapping off and wraps explicitly, in ``_wrap_output``:

    - a dense (P, 2F') pair matrix becomes a pandas (or polars) DataFrame with
      the columns of ``get_feature_names_out`` (``<feature>_i`` then
      ``<feature>_j``) and the index of a DataFrame input;
    - a ``RegionPairs`` is returned as it is: it already names its region
      features (``feature_names``), and materialising the (P, 2F') matrix would
      lose what region splitters, null variants and pair models need (and can
      be large). ``pandas.DataFrame(np.asarray(Xt),
      columns=t.get_feature_names_out())`` gives the table when wanted.
    """

    def __init_subclass__(cls, auto_wrap_output_keys=None, **kwargs):
        # Wrapping is done by _wrap_output; scikit-learn's must not wrap again.
        super().__init_subclass__(auto_wrap_output_keys=None, **kwargs)

    def set_output(self, *, transform=None):
        """Set the output container of ``transform`` and ``fit_transform``.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            ``"pandas"``/``"polars"``: a dense pair matrix is returned as a
            DataFrame named by :meth:`get_feature_names_out`; a ``RegionPairs``
            output stays a ``RegionPairs`` (see the class notes). ``"default"``:
            the transformer's own output. ``None``: unchanged.

        Returns
        -------
        self : estimator instance
        """
        if transform is None:
            return self
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _wrap_output(self, output, X):
        """The configured container of one ``transform`` output (see the class notes)."""
        if isinstance(output, RegionPairs):
            return output
        dense = _get_output_config("transform", self)["dense"]
        if dense == "default":
            return output
        return ADAPTERS_MANAGER.adapters[dense].create_container(
            output, X, columns=self.get_feature_names_out
        )

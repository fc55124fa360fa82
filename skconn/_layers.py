"""The layers of skconn and what may import what (read by ``tests/test_imports.py``).

Each layer may import its own modules and those of the layers listed before it,
never a later one; two subpackages of one layer do not import each other. A module
belongs to the entry that names it or else its nearest package (``skconn`` itself
is only the package's ``__init__``). The contributor page ``docs/architecture.rst``
shows this table as it is here.
"""

#: (layer, the modules and packages in it), lowest first.
LAYERS = (
    ("foundation", ("skconn", "skconn._arguments", "skconn._atomic", "skconn._layers",
                    "skconn._permutations", "skconn._persistence", "skconn._validation",
                    "skconn.exceptions")),
    ("datasets", ("skconn.datasets",)),
    ("pairs", ("skconn.pairs",)),
    ("metrics", ("skconn.metrics",)),
    ("estimators", ("skconn.preprocessing", "skconn.models", "skconn.model_selection")),
    ("nulls", ("skconn.nulls",)),
    ("plotting", ("skconn.plotting",)),
    ("utils", ("skconn.utils",)),
    ("benchmark", ("skconn.benchmark", "skconn._config")),
    ("cli", ("skconn.cli", "skconn.__main__")),
)

#: A module over this many lines says in its docstring why, in a sentence that
#: starts "Long because".
MAX_MODULE_LINES = 500

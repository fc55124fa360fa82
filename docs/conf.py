"""Sphinx configuration for skconn."""

import skconn

project = "skconn"
author = "skconn developers"
release = skconn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
numpydoc_show_class_members = False
templates_path = ["_templates"]
exclude_patterns = ["_build"]
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "reference_url": {"skconn": None},
}
nitpicky = False
html_theme = "pydata_sphinx_theme"


def _constant_docs(app, what, name, obj, options, lines):
    """A module constant's ``#:`` comment instead of its type's docstring (tuple, dict...).

    autodoc looks for the comment in the package that re-exports the constant, not in the
    private module that defines it, and falls back on e.g. ``tuple.__doc__``.
    """
    import sys

    from sphinx.pycode import ModuleAnalyzer

    if what != "data" or type(obj).__module__ != "builtins":
        return
    attr = name.rpartition(".")[2]
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("skconn") or getattr(module, attr, None) is not obj:
            continue
        try:
            docs = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except Exception:  # no source to read
            continue
        if ("", attr) in docs:
            lines[:] = list(docs[("", attr)])
            return


def setup(app):
    app.connect("autodoc-process-docstring", _constant_docs)

"""The documentation stands alone: every public name in the API reference, no private paths,
no citations of a specification file that users do not have."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api.rst"
PACKAGES = ("datasets", "pairs", "preprocessing", "models", "model_selection", "nulls",
            "metrics", "plotting", "utils", "benchmark")
# the project's method specification is not shipped: cite the paper or name the method
FORBIDDEN = re.compile(r"REFERENCE|§")
PRIVATE_PATH = re.compile(r"\bskconn(?:\.\w+)*\._\w+")


def _api_entries() -> set[str]:
    text = API.read_text(encoding="utf-8")
    return set(re.findall(r"^\s+([A-Za-z_][\w.]*)\s*$", text, flags=re.M))


def _public_names() -> list[tuple[str, str]]:
    names = []
    for package in PACKAGES:
        module = importlib.import_module(f"skconn.{package}")
        names += [(package, name) for name in module.__all__]
    return names


def test_every_public_name_is_in_the_api_reference():
    entries = _api_entries()
    missing = [f"{package}.{name}" for package, name in _public_names()
               if f"{package}.{name}" not in entries]
    assert not missing, f"public names missing from docs/api.rst: {missing}"


def test_api_reference_entries_exist():
    for entry in _api_entries():
        if "." not in entry:
            continue
        package, _, name = entry.rpartition(".")
        module = importlib.import_module(f"skconn.{package}")
        assert hasattr(module, name), f"docs/api.rst lists skconn.{entry}, which does not exist"


def test_api_reference_names_no_private_module():
    text = API.read_text(encoding="utf-8")
    private = re.findall(r"[\w.]*\._\w[\w.]*", text)
    assert not private, f"docs/api.rst names private module paths: {private}"


@pytest.mark.parametrize("path", sorted([*(ROOT / "docs").glob("*.rst"),
                                         *(ROOT / "examples").glob("*.py"),
                                         *(ROOT / "examples").glob("*.rst")]),
                         ids=lambda p: p.name)
def test_docs_and_examples_cite_no_private_specification(path):
    text = path.read_text(encoding="utf-8")
    hits = [f"{path.name}:{n}: {line.strip()}"
            for n, line in enumerate(text.splitlines(), 1) if FORBIDDEN.search(line)]
    assert not hits, "cite the paper (Ratzan et al., NeurIPS 2025) or name the method:\n" + \
        "\n".join(hits)
    assert not PRIVATE_PATH.search(text), f"{path.name} names a private path"


def _public_docstrings():
    """(where, docstring) of each public subpackage, public name and its own public members."""
    for package in PACKAGES:
        module = importlib.import_module(f"skconn.{package}")
        yield f"skconn.{package}", module.__doc__ or ""
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or callable(obj)):
                continue  # constants carry their documentation in the API reference
            yield f"skconn.{package}.{name}", inspect.getdoc(obj) or ""
            if not inspect.isclass(obj):
                continue
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                member = getattr(member, "fget", None) or getattr(member, "__func__", member)
                if callable(member):
                    yield f"skconn.{package}.{name}.{attr}", inspect.getdoc(member) or ""


def _docstring_problems() -> list[str]:
    problems = []
    for where, doc in _public_docstrings():
        for line in doc.splitlines():
            if FORBIDDEN.search(line) or PRIVATE_PATH.search(line):
                problems.append(f"{where}: {line.strip()}")
    return problems


def test_docstring_check_sees_the_problems_it_looks_for():
    assert FORBIDDEN.search("the decay curve (REFERENCE §3.1)")
    assert PRIVATE_PATH.search(":func:`skconn.datasets._tss.gene_order`")
    assert not PRIVATE_PATH.search(":func:`skconn.datasets.gene_order`")
    assert any(where == "skconn.plotting.plot_brain_connectomes"
               for where, _ in _public_docstrings())


def test_public_docstrings_stand_alone():
    problems = _docstring_problems()
    assert not problems, "public docstrings cite REFERENCE or a private path:\n" + \
        "\n".join(problems)

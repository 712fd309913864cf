"""The package as users see it: the type stubs describe exactly the extension's
public names, every public object has a docstring, and torch is not imported."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Dict, Set

import srformer
from srformer import _core

STUB = Path(srformer.__file__).with_name("_core.pyi")


def stub_members() -> Dict[str, Set[str]]:
    """Top-level names of the stub, and for each class the names it defines."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    members: Dict[str, Set[str]] = {"": set()}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members[""].add(node.name)
            members[node.name] = {
                item.name for item in node.body if isinstance(item, (ast.FunctionDef, ast.AnnAssign)) and hasattr(item, "name")
            } | {item.target.id for item in node.body if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)}
        elif isinstance(node, ast.FunctionDef):
            members[""].add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            members[""].add(node.target.id)
    return members


def public(names) -> Set[str]:
    return {n for n in names if not n.startswith("_") or n in ("__version__", "__iter__", "__next__", "__len__",
                                                                 "__getitem__", "__enter__", "__exit__", "__init__")}


def test_stub_matches_the_extension():
    stub = stub_members()
    aliases = {"PathLike", "IdRows", "Ids"}  # type aliases of the stub only
    module_names = {n for n in dir(_core) if not n.startswith("__") or n == "__version__"}
    assert stub[""] - aliases == module_names
    for name, declared in stub.items():
        if not name or issubclass(getattr(_core, name), BaseException):
            continue
        cls = getattr(_core, name)
        actual = {n for n in public(vars(cls)) if n not in ("__init__",) or "__init__" in declared}
        actual.discard("__module__")
        actual.discard("__doc__")
        assert declared - {"__init__"} == actual - {"__init__"}, name


def test_public_objects_have_docstrings():
    for name in srformer.__all__:
        obj = getattr(srformer, name)
        if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
            assert obj.__doc__, name


def test_import_does_not_load_torch():
    code = "import sys, srformer, srformer.safetensors; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "False"


def test_threads_setting():
    before = srformer.num_threads()
    try:
        srformer.set_num_threads(1)
        assert srformer.num_threads() == 1
    finally:
        srformer.set_num_threads(before)

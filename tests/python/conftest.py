"""Shared fixtures of the Python tests.

ctest runs them (tests/CMakeLists.txt) with PYTHONPATH set to the build folder's
package and SRFORMER_SUMMARIZE set to the command-line example; run by hand:

    PYTHONPATH=build/python SRFORMER_SUMMARIZE=build/examples/summarize \
        /usr/bin/python3 -m pytest tests/python
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "tests" / "data"
DEMO_MODEL = REPO_ROOT / "examples" / "models" / "t5-demo"
DEMO_GOLDEN = DATA_DIR / "trained-t5-small-demo" / "golden.json"


@pytest.fixture(scope="session")
def demo_model() -> Path:
    """The bundled demo model folder (T5, SentencePiece, sharded safetensors)."""
    return DEMO_MODEL


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def demo_golden() -> Dict[str, Any]:
    """golden.json of the demo model: 46 documents with HF transformers' ids and texts."""
    with open(DEMO_GOLDEN, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def demo_documents(demo_golden: Dict[str, Any]) -> List[str]:
    return [item["document"] for item in demo_golden["items"]]


@pytest.fixture(scope="session")
def summarizer(demo_model: Path):
    import srformer

    return srformer.Summarizer(demo_model)


@pytest.fixture(scope="session")
def summarize_program() -> Path:
    """The C++ command-line example (skips when ctest did not say where it is)."""
    program = os.environ.get("SRFORMER_SUMMARIZE")
    if not program or not Path(program).exists():
        pytest.skip("SRFORMER_SUMMARIZE does not name the built summarize program")
    return Path(program)

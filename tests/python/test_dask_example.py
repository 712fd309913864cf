"""examples/python/dask_summarize.py: the Dask example run as users run it.

The example runs as a subprocess (the interpreter running pytest, PYTHONPATH
inherited) on 2 worker processes x 1 thread; its JSON Lines output must hold, line
by line and in input order, the input objects with the summaries one in-process
srformer.Summarizer gives with the same options. Bad input lines must fail the run
with exit status 1, a message naming the line, and no output file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence

import pytest

distributed = pytest.importorskip("distributed")
import srformer  # noqa: E402  (after the skip: without dask nothing here runs)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "examples" / "python" / "dask_summarize.py"
DEMO_MODEL = REPO_ROOT / "examples" / "models" / "t5-demo"
DEMO_GOLDEN = REPO_ROOT / "tests" / "data" / "trained-t5-small-demo" / "golden.json"

DOCUMENTS = 40
# Smaller than the example's default of 8 so that 2 workers finish the 8 tasks out of
# order now and then (the output must still come in input order); the in-process
# reference summarizes in the same batches.
BATCH_SIZE = 5
# Greedy search, the model folder's default length; passed to both sides.
GENERATION: Dict[str, Any] = {"num_beams": 1}
TIMEOUT_S = 300

# Tornado's notice when the test process starts its own cluster (scheduler_address).
pytestmark = pytest.mark.filterwarnings("ignore:make_current is deprecated:DeprecationWarning")


def run_example(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
    """The example in a subprocess, the environment inherited; PYTHONPATH made absolute
    (run by hand it is often build/python, and the example runs in `cwd`)."""
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def write_jsonl(path: Path, objects: Sequence[Dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for obj in objects:
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")


@pytest.fixture(scope="module")
def documents() -> List[str]:
    with open(DEMO_GOLDEN, encoding="utf-8") as f:
        items = json.load(f)["items"]
    assert len(items) >= DOCUMENTS
    return [item["document"] for item in items[:DOCUMENTS]]


@pytest.fixture(scope="module")
def expected(documents: List[str]) -> List[str]:
    """The summaries of one in-process Summarizer, same model, options and batches."""
    summarizer = srformer.Summarizer(DEMO_MODEL, threads=1)
    batch = summarizer.summarize(documents, batch_size=BATCH_SIZE, **GENERATION)
    return [summary.text for summary in batch]


@pytest.fixture()
def corpus(tmp_path: Path, documents: List[str]) -> Path:
    """The documents as JSON Lines, with a field before and one after the document
    (both must come back unchanged and in their order)."""
    path = tmp_path / "docs.jsonl"
    write_jsonl(path, [{"id": i, "document": doc, "source": "golden"} for i, doc in enumerate(documents)])
    return path


def check_output(path: Path, documents: List[str], expected: List[str]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(documents)
    for i, line in enumerate(lines):
        obj = json.loads(line)
        # The C++ summarize --jsonl format: the input object, fields in order, summary last.
        assert list(obj) == ["id", "document", "source", "summary_text"], f"line {i + 1}"
        assert obj["id"] == i, f"line {i + 1}: output out of input order"
        assert obj["document"] == documents[i]
        assert obj["source"] == "golden"
        assert obj["summary_text"] == expected[i], f"line {i + 1}"
        assert line == json.dumps(obj, ensure_ascii=False, separators=(",", ":")), "compact JSON, as the CLI"


GENERATION_FLAGS = ["--num-beams", "1"]
COMMON_FLAGS = ["--threads", "1", "--batch-size", str(BATCH_SIZE), "--model", str(DEMO_MODEL), *GENERATION_FLAGS]


def test_local_cluster_matches_in_process(tmp_path: Path, corpus: Path, documents: List[str], expected: List[str]) -> None:
    out = tmp_path / "out" / "summaries.jsonl"
    out.parent.mkdir()
    result = run_example(
        ["--input", str(corpus), "--output", str(out), "--workers", "2", "--threads-per-worker", "1", *COMMON_FLAGS],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # everything went to the file
    check_output(out, documents, expected)
    assert sorted(p.name for p in out.parent.iterdir()) == ["summaries.jsonl"]  # no temporary file left
    # The final report.
    assert f"documents         {DOCUMENTS}" in result.stderr
    assert "workers           2 " in result.stderr
    assert "documents/s" in result.stderr and "output tokens/s" in result.stderr


@pytest.fixture(scope="module")
def scheduler_address() -> Iterator[str]:
    """An existing cluster for --scheduler: 2 worker processes started from this test
    process, so the workers cannot import the example and must get its plugin and task
    functions by value."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", scheduler_port=0
    ) as cluster:
        yield cluster.scheduler_address


def test_existing_scheduler_and_stdout(
    tmp_path: Path, corpus: Path, documents: List[str], expected: List[str], scheduler_address: str
) -> None:
    result = run_example(["--scheduler", scheduler_address, "--input", str(corpus), "--quiet", *COMMON_FLAGS], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "stdout.jsonl"
    out.write_text(result.stdout, encoding="utf-8")
    check_output(out, documents, expected)
    assert "documents/s" not in result.stderr  # --quiet
    # The run's plugin (and its model) is gone from the shared workers afterwards.
    with distributed.Client(scheduler_address) as client:
        plugins = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    for names in plugins.values():
        assert not [name for name in names if name.startswith("srformer-summarizer")]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"id": 3, "document": "unterminated', "line 4: invalid JSON"),
        ('{"id": 3, "text": "no document field"}', "line 4 has no field 'document'"),
        ('{"id": 3, "document": 42}', "line 4: field 'document' is not a string"),
        ("[1, 2, 3]", "line 4 is not a JSON object"),
    ],
)
def test_bad_line_fails_without_output(tmp_path: Path, documents: List[str], bad_line: str, message: str) -> None:
    corpus = tmp_path / "bad.jsonl"
    with open(corpus, "w", encoding="utf-8") as f:
        for i in range(3):
            f.write(json.dumps({"id": i, "document": documents[i]}) + "\n")
        f.write(bad_line + "\n")
        f.write(json.dumps({"id": 4, "document": documents[4]}) + "\n")
    out = tmp_path / "out.jsonl"
    result = run_example(["--input", str(corpus), "--output", str(out), "--workers", "2"], cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"{corpus} {message}" in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]  # no temporary file either
    assert result.stdout == ""

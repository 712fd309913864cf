"""The Summarizer and the command line run the cross-attention a checkpoint's
config.json names (both forms), and say so when another one is chosen."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest

import srformer


def model_folder(demo_model: Path, tmp_path: Path, extra: Dict[str, Any]) -> Path:
    """The demo model with `extra` merged into config.json (other files linked)."""
    folder = tmp_path / "model"
    folder.mkdir()
    for entry in demo_model.iterdir():
        if entry.name != "config.json":
            os.symlink(entry.resolve(), folder / entry.name)
    config = json.loads((demo_model / "config.json").read_text())
    config.update(extra)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


SEGMENTED = {"kind": "segmented", "segment": 32, "gen_len": 64, "mode": "causal"}


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"cross_attention": {"kind": "segmented", "segment_size": 32, "gen_len": 64, "semantics": "causal"}}, SEGMENTED),
        ({"srformer": {"split_size": 16}}, {"kind": "segmented", "segment": 16, "gen_len": 128, "mode": "paper"}),
    ],
    ids=["cross_attention_block", "authors_srformer_block"],
)
def test_summarizer_runs_the_checkpoints_attention(demo_model, tmp_path, extra, expected):
    folder = model_folder(demo_model, tmp_path, extra)
    summarizer = srformer.Summarizer(folder)
    assert summarizer.attention == expected
    assert summarizer.checkpoint_attention == expected
    assert not summarizer.attention_differs_from_checkpoint
    assert not summarizer.summarize("A library to read files.").attention_differs_from_checkpoint
    assert srformer.Model.from_folder(folder).attention == expected

    # Only the kind given: the rest stays the checkpoint's; another kind is flagged.
    full = srformer.Summarizer(folder, attention="full")
    assert full.attention["kind"] == "full" and full.attention_differs_from_checkpoint
    assert full.summarize("A library to read files.").attention_differs_from_checkpoint


def test_plain_checkpoint_and_family_defaults(demo_model):
    plain = srformer.Summarizer(demo_model)
    assert plain.checkpoint_attention is None and not plain.attention_differs_from_checkpoint
    segmented = srformer.Summarizer(demo_model, attention="segmented")
    assert segmented.attention == {"kind": "segmented", "segment": 64, "gen_len": 128, "mode": "paper"}  # T5: s = 64
    assert segmented.attention_differs_from_checkpoint


def test_command_line_warns_once_when_the_attention_differs(demo_model, tmp_path, summarize_program):
    folder = model_folder(demo_model, tmp_path, {"cross_attention": {"kind": "segmented", "segment_size": 32}})
    sample = demo_model.parents[1] / "data" / "sample_dialogue.txt"

    def run(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(summarize_program), "--model", str(folder), *flags, str(sample)],
                              capture_output=True, text=True, check=True)

    as_trained = run()
    assert "warning" not in as_trained.stderr
    assert as_trained.stdout.strip() == srformer.Summarizer(folder).summarize(sample.read_text()).text
    other = run("--attention", "full")
    warnings = [line for line in other.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "summarize: warning: running full cross-attention on a checkpoint trained with "
        "segmented (s = 32, G = 128, paper)"
    ]
    plain = subprocess.run([str(summarize_program), "--attention", "segmented", str(sample)],
                           capture_output=True, text=True, check=True)
    assert "trained with full attention" in plain.stderr

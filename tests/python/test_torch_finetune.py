"""Fine-tuning and export at tiny scale: the loss goes down, the exported folder runs
in the C++ library (binding and command line) with the attention it was trained with,
logits equal torch's and greedy decoding agrees; resume is exact; bad data and a
diverging run stop with clear messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import srformer  # noqa: E402
from srformer.torch.attention import AttentionOptions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "examples" / "models" / "t5-demo"  # small enough to fine-tune in seconds at 48 input tokens
SAMPLE = REPO / "examples" / "data" / "finetune"
ATTENTION = ["--attention", "srformer", "--mode", "causal", "--segment", "8", "--gen-len", "16"]
COMMON = ["--max-input-tokens", "48", "--max-target-tokens", "12", "--batch-size", "4", "--lr", "3e-3",
          "--seed", "5", "--threads", "1", "--quiet"]


def finetune(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "srformer.torch.finetune", "--model", str(TINY), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"finetune failed ({result.returncode}):\n{result.stderr}")
    return result


def losses(folder: Path) -> List[float]:
    with open(folder / "training_log.jsonl", encoding="utf-8") as f:
        return [json.loads(line)["loss"] for line in f]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finetune") / "tiny-srformer"
    finetune("--train", str(SAMPLE / "train.jsonl"), "--valid", str(SAMPLE / "valid.jsonl"), "--out", str(out),
             "--steps", "30", "--valid-every", "15", *ATTENTION, *COMMON)
    return out


def test_loss_goes_down_and_the_folder_is_complete(trained: Path):
    values = losses(trained)
    assert len(values) == 30
    assert np.mean(values[-5:]) < 0.9 * np.mean(values[:5]), values
    config = json.loads((trained / "config.json").read_text())
    assert config["cross_attention"] == {"kind": "srformer", "segment_size": 8, "gen_len": 16, "semantics": "causal"}
    assert config["srformer"] == {"split_size": 8, "gen_len": 16}
    for name in ("model.safetensors", "spiece.model", "generation_config.json", "training_args.json"):
        assert (trained / name).is_file(), name
    weights = srformer.safetensors.load(trained)
    assert "decoder.block.0.layer.1.EncDecAttention.SNN_kv.weight" in weights
    # the same tensors as pytorch_model.bin, for the authors' code (transformers 4.11, no safetensors)
    legacy = torch.load(trained / "pytorch_model.bin")
    assert set(legacy) == set(weights)
    assert all(np.array_equal(legacy[name].numpy(), weights[name]) for name in weights)
    assert json.loads((trained / "training_args.json").read_text())["command"].startswith("python3 -m srformer.torch")


def test_export_runs_in_cpp_with_torchs_logits_and_greedy_output(trained: Path):
    from srformer.torch.models import Seq2SeqLM

    model = srformer.Model.from_folder(trained)  # the attention comes from config.json
    assert model.attention == {"kind": "srformer", "segment": 8, "gen_len": 16, "mode": "causal"}
    torch_model = Seq2SeqLM.from_pretrained(trained).eval()
    assert torch_model.attention_options == AttentionOptions("srformer", 8, 16, "causal")

    tokenizer = srformer.Tokenizer.from_folder(trained)
    lines = (SAMPLE / "valid.jsonl").read_text().splitlines()[:3]
    ids = [tokenizer.encode(json.loads(line)["document"], max_length=48) for line in lines]
    out = model.generate(ids, max_new_tokens=20)
    encoded = model.encode(ids)
    cpp_logits = model.logits(encoded, out.sequences)
    input_ids = torch.tensor(encoded.input_ids)
    with torch.no_grad():
        torch_logits = torch_model(input_ids, torch.tensor(encoded.attention_mask),
                                   decoder_input_ids=torch.tensor(out.sequences)).logits.numpy()
    scale = max(1.0, float(np.abs(torch_logits).max()))
    assert float(np.abs(cpp_logits - torch_logits).max()) <= 1e-4 * scale
    # Greedy: every generated token is torch's argmax after the tokens before it.
    for row in range(len(ids)):
        generated = out.unpadded(row)
        predicted = torch_logits[row, : len(generated) - 1].argmax(axis=-1)
        assert predicted.tolist() == generated[1:], row


def test_the_command_line_runs_the_export_without_a_warning(trained: Path, summarize_program: Path):
    result = subprocess.run([str(summarize_program), "--model", str(trained), "--max-new-tokens", "10",
                             str(REPO / "examples" / "data" / "sample_dialogue.txt")],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip()
    assert "warning" not in result.stderr


def test_resume_continues_exactly(tmp_path: Path):
    train = ["--train", str(SAMPLE / "train.jsonl"), "--steps", "8", "--checkpoint-every", "2", *ATTENTION, *COMMON]
    whole = tmp_path / "whole"
    finetune(*train, "--out", str(whole))
    split = tmp_path / "split"
    first = finetune(*train, "--out", str(split), "--stop-after", "3")
    assert "continue with --resume" in first.stderr and not split.exists()
    finetune(*train, "--out", str(split), "--resume")
    assert losses(split) == losses(whole)
    a, b = srformer.safetensors.load(whole), srformer.safetensors.load(split)
    assert all(np.array_equal(a[name], b[name]) for name in a)


def test_bad_data_names_the_line(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"document": "a text", "summary": "a summary"}\n{"document": "no summary"}\n')
    result = finetune("--train", str(bad), "--out", str(tmp_path / "out"), "--steps", "1", check=False)
    assert result.returncode == 1
    assert "bad.jsonl line 2" in result.stderr and "'summary'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_diverging_run_stops_with_a_clear_message(tmp_path: Path):
    result = finetune("--train", str(SAMPLE / "valid.jsonl"), "--out", str(tmp_path / "out"), "--steps", "40",
                      "--lr", "1e6", "--clip", "0", "--max-input-tokens", "32", "--max-target-tokens", "8",
                      "--threads", "1", "--quiet", check=False)
    assert result.returncode == 3, result.stderr
    assert "the loss became" in result.stderr and "--lr" in result.stderr
    assert not (tmp_path / "out").exists()

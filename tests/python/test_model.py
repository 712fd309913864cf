"""srformer.Model: encoder output, teacher-forced logits and generate() against the
HuggingFace goldens the C++ tests use (tests/data/hf-tiny, trained-t5-small-demo)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import srformer

ATOL = 1e-4  # as the C++ golden tests (float32 against HF float32)
RTOL = 1e-4
TINY_MODELS = ["bart_tiny", "bart_tiny_scaled", "t5_tiny", "t5v11_tiny"]


def assert_close(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert got.shape == expected.shape, what
    assert got.dtype == np.float32, what
    error = np.abs(got.astype(np.float64) - expected)
    limit = ATOL + RTOL * np.abs(expected)
    worst = float(np.max(error - limit))
    assert worst <= 0.0, f"{what}: max |diff| {float(error.max()):.3g}"


@pytest.mark.parametrize("name", TINY_MODELS)
def test_encoder_and_logits_match_huggingface(data_dir: Path, name: str):
    folder = data_dir / "hf-tiny" / name
    golden = srformer.safetensors.load(folder / "golden.safetensors")
    model = srformer.Model.from_folder(folder)
    encoded = model.encode(golden["input_ids"], golden["attention_mask"])
    assert encoded.batch_size == 2 and encoded.length == golden["input_ids"].shape[1]
    np.testing.assert_array_equal(encoded.input_ids, golden["input_ids"])
    np.testing.assert_array_equal(encoded.attention_mask, golden["attention_mask"])
    assert_close(encoded.last_hidden_state, golden["encoder_last_hidden_state"], "encoder_last_hidden_state")
    logits = model.logits(encoded, golden["decoder_input_ids"])
    assert logits.shape == (2, golden["decoder_input_ids"].shape[1], model.config["vocab_size"])
    assert_close(logits, golden["logits"], "logits")


@pytest.mark.parametrize("name", TINY_MODELS)
def test_generate_matches_huggingface(data_dir: Path, name: str):
    folder = data_dir / "hf-tiny" / name
    golden = srformer.safetensors.load(folder / "golden.safetensors")
    with open(folder / "golden.json", encoding="utf-8") as f:
        recorded = json.load(f)
    expected = recorded["generation"]
    # The golden records the model config's special ids next to the settings (HF's
    # generate() takes forced_bos_token_id from the BART config).
    special = {key: recorded[key] for key in ("decoder_start_token_id", "pad_token_id", "eos_token_id",
                                               "forced_bos_token_id")}
    model = srformer.Model.from_folder(folder)
    encoded = model.encode(golden["input_ids"], golden["attention_mask"])
    for setting, case in expected.items():
        out = model.generate(encoded, **special, **case["settings"])
        assert out.sequences.tolist() == case["sequences"], f"{name} {setting}"
        if case["sequences_scores"] is None:
            assert out.sequences_scores is None
        else:
            np.testing.assert_allclose(out.sequences_scores, case["sequences_scores"], atol=1e-4, rtol=1e-4)
        for row in range(out.sequences.shape[0]):
            assert len(out.unpadded(row)) == 1 + out.generated_lengths[row]
    # The same from ids (encoded inside generate)
    again = model.generate(golden["input_ids"], golden["attention_mask"], **special, **expected["greedy"]["settings"])
    assert again.sequences.tolist() == expected["greedy"]["sequences"]


def test_demo_model_logits_match_huggingface(demo_model: Path, data_dir: Path, demo_golden):
    golden = srformer.safetensors.load(data_dir / "trained-t5-small-demo" / "golden.safetensors")
    model = srformer.Model.from_folder(demo_model)
    prefixes = sorted({name.split(".")[0] for name in golden})
    assert len(prefixes) == 2
    for prefix in prefixes:
        encoded = model.encode(golden[prefix + ".input_ids"])
        if prefix + ".encoder_last_hidden_state" in golden:
            assert_close(encoded.last_hidden_state, golden[prefix + ".encoder_last_hidden_state"], prefix)
        logits = model.logits(encoded, golden[prefix + ".decoder_input_ids"])
        assert_close(logits, golden[prefix + ".logits"], prefix + ".logits")
    # generate() with the folder's defaults equals the golden greedy ids
    item = demo_golden["items"][0]
    out = model.generate([item["input_ids"]], max_new_tokens=64)
    assert out.unpadded(0) == item["greedy"]["ids"]


def test_output_logits_and_sampling(demo_model: Path, demo_golden):
    model = srformer.Model.from_folder(demo_model)
    ids = [demo_golden["items"][1]["input_ids"], demo_golden["items"][2]["input_ids"]]  # ragged: padded here
    out = model.generate(ids, max_new_tokens=8, output_logits=True)
    assert len(out.logits) == 2
    for row, steps in enumerate(out.logits):
        assert steps.shape == (out.generated_lengths[row], model.config["vocab_size"])
        np.testing.assert_array_equal(steps.argmax(axis=1), out.unpadded(row)[1:])
    sampled = model.generate(ids, do_sample=True, num_return_sequences=3, seed=11, max_new_tokens=8)
    assert sampled.sequences.shape[0] == 6 and sampled.num_return_sequences == 3
    again = model.generate(ids, do_sample=True, num_return_sequences=3, seed=11, max_new_tokens=8)
    np.testing.assert_array_equal(sampled.sequences, again.sequences)


def test_with_attention_shares_weights_and_changes_the_policy(demo_model: Path, demo_golden):
    model = srformer.Model.from_folder(demo_model)
    segmented = model.with_attention("segmented", segment=16, mode="causal")
    assert segmented.attention == {"kind": "segmented", "segment": 16, "gen_len": 128, "mode": "causal"}
    assert model.attention["kind"] == "full"
    ids = [demo_golden["items"][3]["input_ids"]]
    encoded = segmented.encode(ids)
    logits = segmented.logits(encoded, [[0, 5, 6]])
    assert logits.shape == (1, 3, 8000) and np.isfinite(logits).all()
    with pytest.raises(srformer.InputError, match="another cross-attention"):
        model.logits(encoded, [[0, 5, 6]])  # encoded for the segmented policy


def test_model_properties(demo_model: Path):
    model = srformer.Model.from_folder(demo_model)
    config = model.config
    assert config["family"] == "t5" and config["vocab_size"] == 8000 and config["d_model"] == 256
    assert model.generation_config["max_length"] == 65
    assert "srformer.Model t5" in repr(model)


def test_bad_inputs_are_named(demo_model: Path):
    model = srformer.Model.from_folder(demo_model)
    with pytest.raises(srformer.InputError, match="integers"):
        model.encode(np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(srformer.InputError, match="empty"):
        model.encode([])
    with pytest.raises(srformer.InputError, match="0 and 1"):
        model.encode([[5, 6, 1]], [[1, 2, 1]])
    with pytest.raises(srformer.InputError, match="masks every token"):
        model.encode([[5, 6, 1]], [[0, 0, 0]])
    with pytest.raises(srformer.InputError, match="32 bits"):
        model.encode([[2**40]])
    with pytest.raises(srformer.InputError):
        model.encode([[5, 9000, 1]])  # outside the vocabulary
    encoded = model.encode([[5, 6, 1]])
    with pytest.raises(srformer.InputError, match="rows"):
        model.logits(encoded, [[0, 1], [0, 1]])
    with pytest.raises(srformer.OptionError, match="query_mode"):
        model.logits(encoded, [[0, 1]], query_mode="sideways")
    with pytest.raises(srformer.OptionError) as error:
        model.generate(encoded, num_beams=-1)
    assert error.value.option == "num_beams"

"""Every srformer exception class, raised from the C++ library with its message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import srformer

ALL_ERRORS = [
    srformer.FormatError,
    srformer.ConfigError,
    srformer.TensorError,
    srformer.InputError,
    srformer.TokenizerError,
    srformer.OptionError,
    srformer.ResourceError,
]


def test_hierarchy():
    assert issubclass(srformer.Error, Exception)
    for error in ALL_ERRORS:
        assert issubclass(error, srformer.Error), error
        assert error.__module__ == "srformer"
        assert error.__doc__
    assert issubclass(srformer.InputError, ValueError)
    assert issubclass(srformer.OptionError, ValueError)
    assert not issubclass(srformer.FormatError, ValueError)


def copy_demo_config(demo_model: Path, folder: Path) -> Path:
    folder.mkdir()
    for name in ("config.json", "generation_config.json", "spiece.model"):
        shutil.copy(demo_model / name, folder / name)
    return folder


def test_format_error(demo_model: Path, tmp_path: Path):
    folder = copy_demo_config(demo_model, tmp_path / "model")
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(srformer.FormatError, match="model.safetensors") as error:
        srformer.Summarizer(folder)
    assert isinstance(error.value, srformer.Error)


def test_config_error(demo_model: Path, tmp_path: Path):
    folder = copy_demo_config(demo_model, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "gpt2"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(srformer.ConfigError, match="unsupported model_type 'gpt2'"):
        srformer.Model.from_folder(folder)


def test_tensor_error(demo_model: Path, tmp_path: Path):
    folder = copy_demo_config(demo_model, tmp_path / "model")
    weights = srformer.safetensors.load(demo_model)
    del weights["decoder.final_layer_norm.weight"]
    srformer.safetensors.save(folder / "model.safetensors", weights)
    with pytest.raises(srformer.TensorError, match="decoder.final_layer_norm.weight"):
        srformer.Model.from_folder(folder)


def test_tokenizer_error(demo_model: Path, tmp_path: Path):
    folder = copy_demo_config(demo_model, tmp_path / "model")
    (folder / "spiece.model").unlink()
    (folder / "tokenizer.json").write_text(json.dumps({"model": {"type": "WordPiece"}}))
    with pytest.raises(srformer.TokenizerError, match="model type 'WordPiece'"):
        srformer.Tokenizer.from_folder(folder)
    # A tokenizer file that cannot be parsed is a malformed file: FormatError
    (folder / "tokenizer.json").unlink()
    (folder / "spiece.model").write_bytes(b"not a sentencepiece model")
    with pytest.raises(srformer.FormatError, match="spiece.model"):
        srformer.Tokenizer.from_folder(folder)


def test_input_error(summarizer):
    with pytest.raises(srformer.InputError, match="document 1 is empty"):
        summarizer.summarize(["text", ""])
    with pytest.raises(srformer.InputError, match="not a str"):
        summarizer.summarize(["text", 5])
    with pytest.raises(srformer.InputError, match="no documents"):
        summarizer.summarize([])
    with pytest.raises(ValueError):  # InputError is a ValueError
        summarizer.summarize("text", batch_size=0)


def test_option_error_names_the_option(summarizer, demo_model: Path):
    with pytest.raises(srformer.OptionError, match="num_beams = 0 is invalid") as error:
        summarizer.summarize("text", num_beams=0)
    assert error.value.option == "num_beams"
    with pytest.raises(srformer.OptionError, match="unknown generation option 'beams'") as error:
        summarizer.summarize("text", beams=4)
    assert error.value.option == "beams"
    with pytest.raises(srformer.OptionError, match="must be an int") as error:
        summarizer.summarize("text", max_new_tokens=2.5)
    assert error.value.option == "max_new_tokens"
    with pytest.raises(srformer.OptionError, match="True or False"):
        summarizer.summarize("text", do_sample=1)
    with pytest.raises(srformer.OptionError, match="unknown cross-attention kind 'sideways'") as error:
        srformer.Summarizer(demo_model, attention="sideways")
    assert error.value.option is None
    with pytest.raises(srformer.OptionError, match="segment size must be at least 1"):
        srformer.Model.from_folder(demo_model, attention="segmented", segment=0)
    with pytest.raises(srformer.OptionError, match="threads"):
        srformer.set_num_threads(0)


def test_resource_error(demo_model: Path, demo_documents):
    small = srformer.Summarizer(demo_model, memory_limit_bytes=1 << 20)
    with pytest.raises(srformer.ResourceError, match="summarize fewer documents"):
        small.summarize(demo_documents[:4])


def test_the_model_stays_usable_after_errors(summarizer, demo_golden):
    item = demo_golden["items"][0]
    for bad in ({"num_beams": 0}, {"top_p": 7.0, "do_sample": True}, {"eos_token_id": [-1]}):
        with pytest.raises(srformer.OptionError):
            summarizer.summarize(item["document"], **bad)
    assert summarizer.summarize(item["document"]).ids == item["greedy"]["ids"]
    model = srformer.Model.from_folder(summarizer_model_folder())
    with pytest.raises(srformer.InputError, match="empty"):
        model.encode(np.zeros((1, 0), dtype=np.int64))
    assert model.generate([item["input_ids"]], max_new_tokens=64).unpadded(0) == item["greedy"]["ids"]


def summarizer_model_folder() -> Path:
    return Path(__file__).resolve().parents[2] / "examples" / "models" / "t5-demo"

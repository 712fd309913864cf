"""Export a fine-tuned model as a HuggingFace folder that the C++ library,
``srformer.Summarizer`` and the command line load as they are.

The folder holds:

* ``config.json``: the source model's, plus the ``cross_attention`` block (kind,
  segment_size, gen_len, semantics) that makes every srformer loader run the
  attention the model was trained with, and — for segmented / SRformer — the SRformer
  authors' ``srformer`` block (``split_size``, ``gen_len``) for their tooling;
* ``model.safetensors``: every parameter, float32, HF names (written by the C++
  writer through :mod:`srformer.safetensors`);
* ``pytorch_model.bin`` (unless ``pytorch_bin=False``): the same tensors for loaders that
  predate safetensors — the SRformer authors' code is a fork of transformers 4.11;
* the tokenizer and generation files of the source folder, copied.

The folder is assembled next to the destination and renamed into place, so a failed
export never leaves a half-written model behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np
import torch

from .. import safetensors as st
from .attention import AttentionOptions

PathLike = Union[str, "os.PathLike[str]"]

#: Files copied from the source folder when present (tokenizer and generation settings).
COPIED_FILES = (
    "spiece.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "generation_config.json",
)


def attention_config(options: AttentionOptions) -> Dict[str, Any]:
    """config.json entries describing ``options`` (our block, and the authors' for compatibility)."""
    entries: Dict[str, Any] = {
        "cross_attention": {
            "kind": options.kind,
            "segment_size": options.segment_size,
            "gen_len": options.gen_len,
            "semantics": options.semantics,
        }
    }
    if options.kind != "full":
        entries["srformer"] = {"split_size": options.segment_size, "gen_len": options.gen_len}
    return entries


def state_dict_arrays(state: Mapping[str, torch.Tensor]) -> Dict[str, np.ndarray]:
    """float32 numpy copies of a state dict (tied parameters written under each name)."""
    arrays: Dict[str, np.ndarray] = {}
    for name, tensor in state.items():
        value = tensor.detach().to("cpu")
        if value.is_floating_point():
            value = value.to(torch.float32)
        arrays[name] = np.ascontiguousarray(value.numpy())
    return arrays


def export_folder(
    state: Mapping[str, torch.Tensor],
    attention: AttentionOptions,
    source_folder: PathLike,
    out_folder: PathLike,
    *,
    overwrite: bool = False,
    metadata: Optional[Mapping[str, str]] = None,
    extra_files: Optional[Mapping[str, str]] = None,
    pytorch_bin: bool = True,
) -> Path:
    """Writes ``state`` (a model's ``state_dict()``) as a model folder at ``out_folder``.

    ``source_folder`` supplies config.json and the tokenizer / generation files.
    ``extra_files`` maps file names to text written into the folder as well (e.g. a
    training log). An existing ``out_folder`` is replaced only with ``overwrite``.
    """
    source = Path(source_folder)
    out = Path(out_folder)
    if out.exists() and not overwrite:
        raise FileExistsError(f"export: {out} exists (pass overwrite=True to replace it)")
    with open(source / "config.json", encoding="utf-8") as f:
        config = json.load(f)
    config.pop("cross_attention", None)
    config.pop("srformer", None)
    config.update(attention_config(attention))

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        with open(staging / "config.json", "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        arrays = state_dict_arrays(state)
        st.save(staging / "model.safetensors", arrays, {"format": "pt", **dict(metadata or {})})
        if pytorch_bin:
            torch.save({name: torch.from_numpy(array) for name, array in arrays.items()}, staging / "pytorch_model.bin")
        for name in COPIED_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, staging / name)
        for name, text in (extra_files or {}).items():
            (staging / name).write_text(text, encoding="utf-8")
        if out.exists():
            previous = out.with_name(f".{out.name}.old")
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(out, previous)
            os.replace(staging, out)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out

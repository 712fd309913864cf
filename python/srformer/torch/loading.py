"""Loading a HuggingFace model folder, as downloaded, into :class:`Seq2SeqLM`.

Weights: ``model.safetensors`` or a sharded ``model.safetensors.index.json`` (read by
the C++ reader, :func:`srformer.safetensors.load`), else ``pytorch_model.bin`` or a
sharded ``pytorch_model.bin.index.json`` (``torch.load`` on the CPU, tensors only).

The rules are the C++ loader's (include/srformer/models/weights.hpp, load.hpp):

* the token embedding is read from the first of ``shared.weight``,
  ``encoder.embed_tokens.weight``, ``decoder.embed_tokens.weight`` present (HF stores tied
  tensors once, under either name, or keeps copies); ``lm_head.weight`` is read only
  when the head is untied (a tied checkpoint's copy is ignored);
* BART's names may lack the ``model.`` prefix (a ``BartModel`` checkpoint);
  ``final_logits_bias`` is optional (zeros);
* every shape is checked; missing tensors are named together (:class:`srformer.TensorError`);
* the RAF parameters of SRformer (``SNN_kv.weight``, ``leak``, ``threshold`` of each
  cross-attention) are refused when absent (:class:`srformer.ConfigError`) unless
  ``fresh_raf`` (then the attention module's own initialisation stays), and ignored when
  the attention that runs has none;
* other checkpoint tensors the model does not hold are an error, except the ones HF
  itself ignores (T5's unused ``decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight``,
  fairseq's ``encoder.version`` / ``decoder.version``).
"""

from __future__ import annotations

import json
import os
import re
from typing import Dict, List, Mapping, Optional, Set, Tuple, Union

import numpy as np
import torch

from .. import safetensors as _safetensors
from .._core import ConfigError, FormatError, TensorError
from .attention import AttentionOptions
from .config import ModelConfig, checkpoint_cross_attention, load_model_config
from .models import Seq2SeqLM

__all__ = ["read_checkpoint", "load_state", "load_pretrained", "RAF_PARAMETER_NAMES"]

PathLike = Union[str, "os.PathLike[str]"]

SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PYTORCH_FILE = "pytorch_model.bin"
PYTORCH_INDEX = "pytorch_model.bin.index.json"

#: Local names of the SRformer RAF parameters inside a cross-attention module.
RAF_PARAMETER_NAMES = ("SNN_kv.weight", "leak", "threshold")

#: Checkpoint tensors HF itself ignores when loading (``_keys_to_ignore_on_load_unexpected``).
_IGNORABLE = {
    "t5": [re.compile(r"^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$")],
    "bart": [re.compile(r"^(model\.)?(encoder|decoder)\.version$")],
}


def _shape(shape: Tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(n)) for n in shape) + "]"


def _torch_load(path: str) -> Dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a torch without weights_only
        state = torch.load(path, map_location="cpu")
    except Exception as error:  # unpickling refused or a damaged file
        raise FormatError(f"file {path}: cannot be read as a PyTorch state dict ({error})") from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise FormatError(f"file {path}: expected a state dict (name -> tensor), got {type(state).__name__}")
    tensors: Dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise FormatError(f"file {path}: entry {name!r} is not a named tensor")
        tensors[name] = value
    return tensors


def _pytorch_sharded(folder: str, index_path: str) -> Dict[str, torch.Tensor]:
    try:
        with open(index_path, "rb") as f:
            index = json.loads(f.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"file {index_path}: {error}") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise FormatError(f'file {index_path}: no "weight_map" object listing tensors')
    shards: Dict[str, List[str]] = {}
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or not shard or os.path.isabs(shard) or ".." in shard.replace("\\", "/").split("/"):
            raise FormatError(
                f"file {index_path}: shard name {shard!r} for tensor '{name}' is not a file name inside the checkpoint folder"
            )
        shards.setdefault(shard, []).append(name)
    tensors: Dict[str, torch.Tensor] = {}
    for shard, names in sorted(shards.items()):
        path = os.path.join(folder, shard)
        if not os.path.isfile(path):
            raise FormatError(
                f"checkpoint {folder}: shard '{shard}' listed in {PYTORCH_INDEX} (for tensor '{names[0]}') does not exist"
            )
        content = _torch_load(path)
        for name in names:  # the index is authoritative: unlisted tensors of a shard are ignored
            if name not in content:
                raise FormatError(
                    f"checkpoint {folder}: shard '{shard}' does not contain tensor '{name}' that {PYTORCH_INDEX} maps to it"
                )
            tensors[name] = content[name]
    return tensors


def read_checkpoint(folder: PathLike) -> Dict[str, Union[np.ndarray, torch.Tensor]]:
    """Every tensor of a model folder's weights (name → numpy array for safetensors,
    torch tensor for pytorch_model.bin), the first of model.safetensors,
    model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json present."""
    root = os.fspath(folder)
    if not os.path.isdir(root):
        raise FormatError(f"checkpoint {root}: not a folder" if os.path.exists(root) else f"checkpoint {root}: does not exist")
    if os.path.exists(os.path.join(root, SAFETENSORS_FILE)) or os.path.exists(os.path.join(root, SAFETENSORS_INDEX)):
        return dict(_safetensors.load(root))
    if os.path.exists(os.path.join(root, PYTORCH_FILE)):
        return dict(_torch_load(os.path.join(root, PYTORCH_FILE)))
    if os.path.exists(os.path.join(root, PYTORCH_INDEX)):
        return dict(_pytorch_sharded(root, os.path.join(root, PYTORCH_INDEX)))
    raise FormatError(
        f"checkpoint {root}: folder has none of {SAFETENSORS_FILE}, {SAFETENSORS_INDEX}, {PYTORCH_FILE}, {PYTORCH_INDEX}"
    )


def _as_tensor(value: Union[np.ndarray, torch.Tensor], name: str, where: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        if value.dtype.kind not in "fiub":
            raise TensorError(f"{where}tensor '{name}' has dtype {value.dtype}, which is not a number")
        tensor = torch.from_numpy(np.array(value, copy=True))
    if tensor.is_complex():
        raise TensorError(f"{where}tensor '{name}' has dtype {tensor.dtype}, which is not real")
    return tensor


def load_state(
    model: Seq2SeqLM,
    tensors: Mapping[str, Union[np.ndarray, torch.Tensor]],
    fresh_raf: bool = False,
    source: str = "",
) -> None:
    """Copies a checkpoint's tensors into ``model`` (every parameter and persistent buffer),
    with the C++ loader's rules (module docstring). ``source`` names the checkpoint in
    messages. Nothing is copied when an error is raised."""
    where = f"checkpoint {source}: " if source else ""
    family = model.config.family
    names: Set[str] = set(tensors)
    # BART: BartForConditionalGeneration prefixes "model.", BartModel does not.
    strip_model_prefix = family == "bart" and not (
        "model.shared.weight" in names or "model.encoder.embed_tokens.weight" in names
    )

    def checkpoint_name(name: str) -> str:
        return name[len("model."):] if strip_model_prefix and name.startswith("model.") else name

    state = model.state_dict(keep_vars=True)
    groups: Dict[int, List[str]] = {}  # one entry per distinct tensor: its state_dict names
    for name, tensor in state.items():
        groups.setdefault(id(tensor), []).append(name)

    embedding = model.embedding_names()
    cross_prefixes = model.cross_attention_prefixes()
    projections = ("q", "k", "v", "o", "q_proj", "k_proj", "v_proj", "out_proj")
    base_locals = {f"{p}.{s}" for p in projections for s in ("weight", "bias")}
    raf_names: Set[str] = set()  # state names of the cross-attention's extras (RAF parameters)
    for prefix in cross_prefixes:
        raf_names.update(n for n in state if n.startswith(prefix) and n[len(prefix):] not in base_locals)

    assignments: List[Tuple[torch.Tensor, torch.Tensor, str]] = []
    consumed: Set[str] = set()
    missing: List[str] = []
    shape_errors: List[str] = []

    def take(target: torch.Tensor, state_name: str, found: str) -> None:
        value = _as_tensor(tensors[found], found, where)
        if tuple(value.shape) != tuple(target.shape):
            if value.numel() == 1 and target.numel() == 1:  # a scalar stored as [] or [1]
                value = value.reshape(target.shape)
            else:
                shape_errors.append(
                    f"tensor '{found}' has shape {_shape(tuple(value.shape))} but shape "
                    f"{_shape(tuple(target.shape))} is expected"
                )
                return
        assignments.append((target, value, state_name))

    for group in groups.values():
        target = state[group[0]]
        if embedding[0] in group:
            candidates = [name for name in embedding if name in group]
        else:
            candidates = list(group)
        # Tied aliases present in the checkpoint are consumed (and not read).
        consumed.update(checkpoint_name(name) for name in group if checkpoint_name(name) in names)
        if any(name in raf_names for name in group):
            continue  # per layer below
        found = next((checkpoint_name(name) for name in candidates if checkpoint_name(name) in names), None)
        if found is None:
            if candidates == ["final_logits_bias"]:  # optional, as in the C++ loader and HF
                assignments.append((target, torch.zeros_like(target), group[0]))
                continue
            missing.append(candidates[0] if len(candidates) == 1 else "none of " + ", ".join(f"'{n}'" for n in candidates))
            continue
        take(target, group[0], found)

    # RAF parameters: all or none per layer (C++ SrformerCrossAttention::load_parameters).
    raf_missing: List[str] = []
    fresh_layers: List[str] = []  # prefixes whose RAF parameters the attention module initialises
    for prefix in cross_prefixes:
        extras = sorted(name for name in raf_names if name.startswith(prefix))
        if not extras:
            continue
        present = [name for name in extras if checkpoint_name(name) in names]
        if len(present) == len(extras):
            for name in extras:
                take(state[name], name, checkpoint_name(name))
        elif present:
            absent = [checkpoint_name(name) for name in extras if name not in present]
            raise ConfigError(
                f"{where}tensor '{absent[0]}' is missing while other RAF parameters of the same layer are "
                "present; the checkpoint is incomplete"
            )
        elif not fresh_raf:
            raf_missing.append(checkpoint_name(extras[0]))
        else:
            fresh_layers.append(prefix)
    if raf_missing:
        raise ConfigError(
            f"{where}tensor '{raf_missing[0]}' is missing (and its leak/threshold"
            + (f", and those of {len(raf_missing) - 1} more layers" if len(raf_missing) > 1 else "")
            + "): SRformer cross-attention needs the RAF parameters SNN_kv.weight, leak and threshold in every "
            "decoder layer, so this checkpoint was not trained with SRformer. Use full or segmented "
            "cross-attention, or pass fresh_raf=True to initialise them freshly (untrained: for experiments "
            "and timing only)"
        )

    if missing or shape_errors:
        parts = []
        if missing:
            parts.append("missing tensor" + ("s " if len(missing) > 1 else " ") + ", ".join(
                name if name.startswith("none of") else f"'{name}'" for name in missing
            ))
        parts.extend(shape_errors)
        raise TensorError(where + "; ".join(parts))

    ignorable = _IGNORABLE[family]
    raf_suffixes = tuple(checkpoint_name(prefix) + local for prefix in cross_prefixes for local in RAF_PARAMETER_NAMES)
    unexpected = sorted(
        name
        for name in names - consumed
        if not any(pattern.match(name) for pattern in ignorable) and name not in raf_suffixes
    )
    if unexpected:
        shown = ", ".join(f"'{name}'" for name in unexpected[:10])
        more = f" and {len(unexpected) - 10} more" if len(unexpected) > 10 else ""
        raise TensorError(
            f"{where}unexpected tensor{'s' if len(unexpected) > 1 else ''} {shown}{more}: the {family} model "
            f"built from config.json has no such parameter{'s' if len(unexpected) > 1 else ''}"
        )

    with torch.no_grad():
        for target, value, _ in assignments:
            target.copy_(value.to(dtype=target.dtype, device=target.device))
    # Fresh RAF parameters: the attention module's own initialisation (the authors').
    modules = dict(zip(cross_prefixes, model.cross_attention_modules()))
    for prefix in fresh_layers:
        reset = getattr(modules[prefix], "reset_raf_parameters", None)
        if callable(reset):
            reset()


def load_pretrained(
    folder: PathLike,
    attention: Optional[AttentionOptions] = None,
    fresh_raf: bool = False,
    dtype: torch.dtype = torch.float32,
) -> Seq2SeqLM:
    """:meth:`Seq2SeqLM.from_pretrained`: config.json, the weights, the checkpoint's
    cross-attention unless ``attention`` names one; the model in eval mode."""
    root = os.fspath(folder)
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch dtype, got {dtype}")
    config: ModelConfig = load_model_config(root)
    tensors = read_checkpoint(root)
    if attention is None:
        attention = checkpoint_cross_attention(config, set(tensors)) or AttentionOptions.defaults_for(config.family)
    model = Seq2SeqLM.from_config(config, attention)
    model.to(dtype)
    load_state(model, tensors, fresh_raf=fresh_raf, source=root)
    model.eval()
    return model

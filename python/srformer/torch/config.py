"""Model hyper-parameters read from a HuggingFace ``config.json``, exactly as the C++
``parse_model_config`` (include/srformer/models/config.hpp) reads them: the same keys,
defaults, type rules, bounds and error messages (:class:`srformer.ConfigError`).

Two families: ``t5`` (v1.0 and v1.1 / flan: gated FFN, untied head) and ``bart``.
Anything not implemented is refused by name rather than guessed.

Besides what the C++ reads, the dataclass keeps the dropout rates (HF's keys and
defaults) for training, and the parsed JSON object (``raw``) for the
cross-attention blocks (:func:`checkpoint_cross_attention`).
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, Type, TypeVar, Union

from .._core import ConfigError, FormatError, OptionError
from .attention import AttentionOptions

__all__ = [
    "ModelConfig",
    "parse_model_config",
    "load_model_config",
    "parse_activation",
    "checkpoint_cross_attention",
    "BART_POSITION_OFFSET",
]

PathLike = Union[str, "os.PathLike[str]"]

#: BART's learned position table has max_position_embeddings + 2 rows; position p uses row p + 2.
BART_POSITION_OFFSET = 2

# Bounds of config.hpp (far above any released T5/BART).
_MAX_MODEL_DIMENSION = 1 << 20
_MAX_LAYERS = 1024
_MAX_RELATIVE_BUCKETS = 1 << 16
_MAX_POSITIONS = 1 << 24
_INT64 = (-(1 << 63), (1 << 63) - 1)
_INT32 = (-(1 << 31), (1 << 31) - 1)
_FLOAT32_MAX = 3.4028234663852886e38

#: Activations (C++ ``Activation``): canonical name -> the names config.json may use.
_ACTIVATIONS: Dict[str, Tuple[str, ...]] = {
    "relu": ("relu",),
    "gelu": ("gelu",),  # exact (erf) form
    "gelu_tanh": ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"),
    "silu": ("silu", "swish"),
}

_MISSING = object()
_T = TypeVar("_T")


def _excerpt(value: Any, max_bytes: int = 120) -> str:
    """The C++ ``json_excerpt``: compact JSON, cut after ``max_bytes`` bytes."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    cut = data[:max_bytes].decode("utf-8", errors="ignore")
    return f"{cut}... ({len(data) - len(cut.encode('utf-8'))} more bytes)"


def _number_as_int(value: Any, bounds: Tuple[int, int]) -> Optional[int]:
    """``io::json_number_as`` for integers: ints in range, or floats with an integral value."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if bounds[0] <= value <= bounds[1] else None
    if isinstance(value, float):
        if not math.isfinite(value) or math.floor(value) != value or not bounds[0] <= value < bounds[1] + 1:
            return None
        return int(value)
    return None


def _number_as_float(value: Any) -> Optional[float]:
    """``io::json_number_as<float>``: any finite JSON number within float32's range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    if not math.isfinite(number) or abs(number) > _FLOAT32_MAX:
        return None
    return number


def _value(json_object: Mapping[str, Any], key: str, kind: str, source: str, fallback: Any = _MISSING) -> Any:
    """``config_value`` / ``config_value_or``: kind is "int64", "int32", "float", "bool" or "str".

    A missing key or JSON null gives ``fallback`` (or a "missing required key" error).
    """
    if key not in json_object or json_object[key] is None:
        if fallback is _MISSING:
            raise ConfigError(f"{source}: missing required key '{key}'")
        return fallback
    value = json_object[key]
    if kind in ("int64", "int32", "float"):
        number: Optional[Union[int, float]]
        if kind == "float":
            number = _number_as_float(value)
        else:
            number = _number_as_int(value, _INT64 if kind == "int64" else _INT32)
        if number is not None:
            return number
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        problem = "is not a value its type can hold" if is_number else "has the wrong type"
        raise ConfigError(f"{source}: key '{key}' {problem} ({_excerpt(value)})")
    expected: Type[Any] = bool if kind == "bool" else str
    if not isinstance(value, expected):
        raise ConfigError(f"{source}: key '{key}' has the wrong type ({_excerpt(value)})")
    return value


def _token_list(json_object: Mapping[str, Any], key: str, fallback: int, source: str) -> List[int]:
    """HF allows an int or a list of ints (eos_token_id); null keeps ``fallback``."""
    if key not in json_object or json_object[key] is None:
        return [fallback]
    value = json_object[key]
    if not isinstance(value, list):
        return [_value(json_object, key, "int32", source)]
    ids: List[int] = []
    for item in value:
        token = _number_as_int(item, _INT32)
        if token is None:
            raise ConfigError(f"{source}: key '{key}' must be a token id or a list of token ids, got {_excerpt(value)}")
        ids.append(token)
    if not ids:
        raise ConfigError(f"{source}: key '{key}' is an empty list")
    return ids


def _require_in_range(value: int, low: int, high: int, key: str, source: str) -> None:
    if value < low or value > high:
        raise ConfigError(f"{source}: '{key}' must be in [{low}, {high}], got {value}")


def _require_positive(value: int, key: str, source: str) -> None:
    if value <= 0:
        raise ConfigError(f"{source}: '{key}' must be positive, got {value}")


def _require_token_id(token: int, vocab_size: int, key: str, source: str) -> None:
    if token < 0 or token >= vocab_size:
        raise ConfigError(f"{source}: '{key}' = {token} is outside the vocabulary [0, {vocab_size})")


def parse_activation(name: str, source: str) -> str:
    """The canonical activation ("relu", "gelu", "gelu_tanh", "silu") of an HF name."""
    for canonical, names in _ACTIVATIONS.items():
        if name in names:
            return canonical
    raise ConfigError(
        f"{source}: unsupported activation function '{name}' "
        "(supported: relu, gelu, gelu_new, gelu_pytorch_tanh, silu)"
    )


@dataclass
class ModelConfig:
    """The C++ ``ModelConfig`` (same fields and meaning), plus dropout rates.

    ``head_dim`` is T5's ``d_kv`` or BART's ``d_model / heads``; ``activation`` is
    canonical ("relu", "gelu" = erf form, "gelu_tanh" = HF's gelu_new, "silu");
    ``scale_decoder_outputs`` multiplies the decoder output by d_model^-0.5 before
    the LM head (T5 v1.0 tied head); ``max_position_embeddings`` is BART's, whose
    position table holds ``max_position_embeddings + 2`` rows (:attr:`position_offset`).
    """

    family: str = "t5"
    source: str = "config.json"
    vocab_size: int = 0
    d_model: int = 0
    encoder_layers: int = 0
    decoder_layers: int = 0
    encoder_heads: int = 0
    decoder_heads: int = 0
    head_dim: int = 0
    encoder_ffn_dim: int = 0
    decoder_ffn_dim: int = 0
    activation: str = "relu"
    gated_ffn: bool = False
    norm_eps: float = 1e-6
    # T5
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    scale_decoder_outputs: bool = False
    tie_word_embeddings: bool = True
    # BART
    max_position_embeddings: int = 0
    scale_embedding: bool = False
    # special ids
    pad_token_id: int = 0
    eos_token_id: int = 1
    eos_token_ids: List[int] = field(default_factory=lambda: [1])
    bos_token_id: int = -1
    decoder_start_token_id: int = 0
    # dropout (not read by the C++ library, which only runs inference; HF's keys and defaults)
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    #: The parsed config.json object.
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def inner_dim(self, decoder: bool) -> int:
        """heads · head_dim of the encoder or decoder attention."""
        return (self.decoder_heads if decoder else self.encoder_heads) * self.head_dim

    @property
    def position_offset(self) -> int:
        """BART: 2 (row p + 2 of the position table holds position p); T5: 0."""
        return BART_POSITION_OFFSET if self.family == "bart" else 0

    @property
    def output_scale(self) -> float:
        """Factor on the decoder output before the LM head: d_model^-0.5 or 1."""
        return self.d_model ** -0.5 if self.scale_decoder_outputs else 1.0

    @property
    def embedding_scale(self) -> float:
        """BART scale_embedding: sqrt(d_model), else 1."""
        return math.sqrt(self.d_model) if self.scale_embedding else 1.0


def _t5_config(j: Mapping[str, Any], source: str) -> ModelConfig:
    c = ModelConfig(family="t5", source=source)
    c.vocab_size = _value(j, "vocab_size", "int64", source)
    c.d_model = _value(j, "d_model", "int64", source)
    c.head_dim = _value(j, "d_kv", "int64", source)
    c.encoder_ffn_dim = c.decoder_ffn_dim = _value(j, "d_ff", "int64", source)
    c.encoder_layers = _value(j, "num_layers", "int64", source)
    c.decoder_layers = _value(j, "num_decoder_layers", "int64", source, c.encoder_layers)
    c.encoder_heads = c.decoder_heads = _value(j, "num_heads", "int64", source)
    c.norm_eps = _value(j, "layer_norm_epsilon", "float", source, 1e-6)
    c.relative_attention_num_buckets = _value(j, "relative_attention_num_buckets", "int64", source, 32)
    c.relative_attention_max_distance = _value(j, "relative_attention_max_distance", "int64", source, 128)

    # "relu", "gated-gelu", "gated-silu"...: an optional "gated-" prefix and an activation name.
    proj: str = _value(j, "feed_forward_proj", "str", source, "relu")
    if proj.startswith("gated-"):
        c.gated_ffn = True
        proj = proj[len("gated-"):]
    # HF maps "gated-gelu" to gelu_new (the tanh form) for backwards compatibility.
    if c.gated_ffn and proj == "gelu":
        proj = "gelu_new"
    c.activation = parse_activation(proj, source)

    c.tie_word_embeddings = _value(j, "tie_word_embeddings", "bool", source, True)
    # transformers 5.x writes scale_decoder_outputs; older configs scale exactly when tied.
    c.scale_decoder_outputs = _value(j, "scale_decoder_outputs", "bool", source, c.tie_word_embeddings)
    c.pad_token_id = _value(j, "pad_token_id", "int32", source, 0)
    c.eos_token_ids = _token_list(j, "eos_token_id", 1, source)
    c.eos_token_id = c.eos_token_ids[0]
    c.decoder_start_token_id = _value(j, "decoder_start_token_id", "int32", source, c.pad_token_id)
    c.dropout = _value(j, "dropout_rate", "float", source, 0.1)
    _require_in_range(c.relative_attention_num_buckets, 4, _MAX_RELATIVE_BUCKETS, "relative_attention_num_buckets", source)
    if c.relative_attention_max_distance <= c.relative_attention_num_buckets // 2:
        raise ConfigError(
            f"{source}: 'relative_attention_max_distance' must be greater than half of "
            f"'relative_attention_num_buckets' ({c.relative_attention_num_buckets // 2}), "
            f"got {c.relative_attention_max_distance}"
        )
    # The C++ stores eps as float32: a positive double that rounds to 0 there is refused too.
    if not (math.isfinite(c.norm_eps) and struct.unpack("<f", struct.pack("<f", c.norm_eps))[0] > 0.0):
        raise ConfigError(
            f"{source}: 'layer_norm_epsilon' must be a positive finite number, got {_excerpt(j.get('layer_norm_epsilon'))}"
        )
    return c


def _bart_config(j: Mapping[str, Any], source: str) -> ModelConfig:
    c = ModelConfig(family="bart", source=source)
    c.vocab_size = _value(j, "vocab_size", "int64", source)
    c.d_model = _value(j, "d_model", "int64", source)
    c.encoder_layers = _value(j, "encoder_layers", "int64", source)
    c.decoder_layers = _value(j, "decoder_layers", "int64", source)
    c.encoder_heads = _value(j, "encoder_attention_heads", "int64", source)
    c.decoder_heads = _value(j, "decoder_attention_heads", "int64", source)
    c.encoder_ffn_dim = _value(j, "encoder_ffn_dim", "int64", source)
    c.decoder_ffn_dim = _value(j, "decoder_ffn_dim", "int64", source)
    _require_positive(c.encoder_heads, "encoder_attention_heads", source)
    _require_positive(c.decoder_heads, "decoder_attention_heads", source)
    if c.d_model % c.encoder_heads != 0 or c.d_model % c.decoder_heads != 0:
        raise ConfigError(f"{source}: d_model {c.d_model} is not divisible by the number of attention heads")
    if c.encoder_heads != c.decoder_heads:
        raise ConfigError(f"{source}: encoder_attention_heads != decoder_attention_heads is not supported")
    # C++ integer division (truncates towards zero; d_model is divisible here anyway).
    c.head_dim = int(c.d_model / c.encoder_heads)
    c.activation = parse_activation(_value(j, "activation_function", "str", source, "gelu"), source)
    c.norm_eps = 1e-5
    c.max_position_embeddings = _value(j, "max_position_embeddings", "int64", source)
    c.scale_embedding = _value(j, "scale_embedding", "bool", source, False)
    c.tie_word_embeddings = _value(j, "tie_word_embeddings", "bool", source, True)
    c.pad_token_id = _value(j, "pad_token_id", "int32", source, 1)
    c.eos_token_ids = _token_list(j, "eos_token_id", 2, source)
    c.eos_token_id = c.eos_token_ids[0]
    c.bos_token_id = _value(j, "bos_token_id", "int32", source, 0)
    c.decoder_start_token_id = _value(j, "decoder_start_token_id", "int32", source, c.eos_token_id)
    c.dropout = _value(j, "dropout", "float", source, 0.1)
    c.attention_dropout = _value(j, "attention_dropout", "float", source, 0.0)
    c.activation_dropout = _value(j, "activation_dropout", "float", source, 0.0)
    # Variants whose layer layout differs from BART's post-norm stack.
    if _value(j, "normalize_before", "bool", source, False) or _value(j, "add_final_layer_norm", "bool", source, False):
        raise ConfigError(
            f"{source}: pre-LayerNorm BART variants (normalize_before / add_final_layer_norm, "
            "as in mBART) are not supported"
        )
    if _value(j, "add_bias_logits", "bool", source, False):
        raise ConfigError(f"{source}: add_bias_logits is not supported")
    return c


def parse_model_config(json_object: Any, source: str = "config.json") -> ModelConfig:
    """Parses a HuggingFace config.json object (C++ ``parse_model_config``).

    ``source`` names the file in messages. :class:`srformer.ConfigError` on anything
    missing, mistyped, out of range or unsupported.
    """
    if not isinstance(json_object, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    model_type: str = _value(json_object, "model_type", "str", source)
    if model_type == "t5":
        config = _t5_config(json_object, source)
    elif model_type == "bart":
        config = _bart_config(json_object, source)
    else:
        raise ConfigError(f"{source}: unsupported model_type '{model_type}' (supported: t5, bart)")
    if json_object.get("is_encoder_decoder") is False:
        raise ConfigError(f"{source}: is_encoder_decoder is false; only encoder-decoder models are supported")
    t5 = config.family == "t5"
    _require_in_range(config.vocab_size, 1, _INT32[1], "vocab_size", source)
    _require_in_range(config.d_model, 1, _MAX_MODEL_DIMENSION, "d_model", source)
    _require_in_range(config.head_dim, 1, _MAX_MODEL_DIMENSION, "d_kv" if t5 else "d_model / attention heads", source)
    _require_in_range(config.encoder_layers, 1, _MAX_LAYERS, "num_layers" if t5 else "encoder_layers", source)
    _require_in_range(config.decoder_layers, 1, _MAX_LAYERS, "num_decoder_layers" if t5 else "decoder_layers", source)
    _require_in_range(config.encoder_heads, 1, _MAX_MODEL_DIMENSION, "num_heads" if t5 else "encoder_attention_heads", source)
    _require_in_range(config.encoder_ffn_dim, 1, _MAX_MODEL_DIMENSION, "d_ff" if t5 else "encoder_ffn_dim", source)
    _require_in_range(config.decoder_ffn_dim, 1, _MAX_MODEL_DIMENSION, "d_ff" if t5 else "decoder_ffn_dim", source)
    if not t5:
        _require_in_range(config.max_position_embeddings, 1, _MAX_POSITIONS, "max_position_embeddings", source)
    _require_token_id(config.pad_token_id, config.vocab_size, "pad_token_id", source)
    for token in config.eos_token_ids:
        _require_token_id(token, config.vocab_size, "eos_token_id", source)
    _require_token_id(config.decoder_start_token_id, config.vocab_size, "decoder_start_token_id", source)
    if config.bos_token_id != -1:
        _require_token_id(config.bos_token_id, config.vocab_size, "bos_token_id", source)
    config.raw = dict(json_object)
    return config


def _parse_int(text: str) -> Union[int, float]:
    """As nlohmann::json: integers beyond int64 / uint64 are read as doubles."""
    number = int(text)
    return number if -(1 << 63) <= number <= (1 << 64) - 1 else float(text)


def _read_json_object(path: str) -> Dict[str, Any]:
    if not os.path.isfile(path):
        raise FormatError(f"file {path} does not exist" if not os.path.exists(path) else f"file {path} is not a regular file")
    try:
        with open(path, "rb") as f:
            value = json.loads(f.read().decode("utf-8"), parse_int=_parse_int)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"file {path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise FormatError(f"file {path}: expected a JSON object")
    return value


def load_model_config(folder: PathLike) -> ModelConfig:
    """``folder/config.json`` parsed by :func:`parse_model_config` (messages name the file)."""
    path = os.path.join(os.fspath(folder), "config.json")
    return parse_model_config(_read_json_object(path), path)


def checkpoint_cross_attention(config: ModelConfig, tensor_names: Set[str]) -> Optional[AttentionOptions]:
    """The cross-attention the checkpoint was trained with, or None for a plain checkpoint
    (C++ ``checkpoint_cross_attention``, models/load.hpp).

    Our ``"cross_attention"`` block (kind / segment_size / gen_len / semantics, each over
    the family's defaults) wins over the authors' ``"srformer"`` block (split_size → s,
    gen_len → G, paper semantics; kind srformer when ``tensor_names`` hold ``SNN_kv``,
    else segmented).
    """
    raw = config.raw
    source = config.source
    defaults = AttentionOptions.defaults_for(config.family)
    kind, segment_size, gen_len, semantics = "full", defaults.segment_size, defaults.gen_len, defaults.semantics
    if "cross_attention" in raw:
        block = raw["cross_attention"]
        if not isinstance(block, dict):
            raise ConfigError(f"{source}: 'cross_attention' must be an object")
        if "kind" in block:
            kind = _value(block, "kind", "str", source)
            if kind not in ("full", "segmented", "srformer"):
                raise OptionError(f"unknown cross-attention kind '{kind}' (expected full, segmented or srformer)")
        if "semantics" in block:
            semantics = _value(block, "semantics", "str", source)
            if semantics not in ("paper", "causal"):
                raise OptionError(f"unknown attention semantics '{semantics}' (expected paper or causal)")
        segment_size = _value(block, "segment_size", "int64", source, segment_size)
        gen_len = _value(block, "gen_len", "int64", source, gen_len)
    elif isinstance(raw.get("srformer"), dict):
        block = raw["srformer"]
        segment_size = _value(block, "split_size", "int64", source, segment_size)
        gen_len = _value(block, "gen_len", "int64", source, gen_len)
        kind = "srformer" if any("SNN_kv" in name for name in tensor_names) else "segmented"
    else:
        return None
    try:
        return AttentionOptions(kind=kind, segment_size=segment_size, gen_len=gen_len, semantics=semantics)
    except ValueError as error:
        raise OptionError(f"{source}: {error}") from None

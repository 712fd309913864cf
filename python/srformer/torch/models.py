"""T5 (v1.0, v1.1 / flan) and BART as ``torch.nn.Module``\\ s with HuggingFace's
parameter names and a pluggable decoder cross-attention.

``state_dict()`` names are exactly those of HF's ``T5ForConditionalGeneration`` /
``BartForConditionalGeneration`` (tied tensors appear under every name, as in HF:
``shared.weight``, ``encoder.embed_tokens.weight``, ``decoder.embed_tokens.weight`` and,
when tied, ``lm_head.weight`` are one tensor). Each decoder layer's cross-attention is a
module made by :func:`srformer.torch.attention.make_cross_attention`, at HF's path
(T5 ``decoder.block.{i}.layer.1.EncDecAttention``, BART
``model.decoder.layers.{i}.encoder_attn``), so SRformer's parameters land where the
authors' checkpoints keep them (``...EncDecAttention.SNN_kv.weight``, ``leak``,
``threshold``).

Numerics follow HF: T5 RMS norm and attention softmax in float32 (float64 in a
float64 model), no attention scaling, relative position buckets, d_model^-0.5 on the
decoder output of a tied v1.0 head; BART post-norm layers, learned positions offset by
2, ``scale_embedding``, ``final_logits_bias``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from .attention import AttentionOptions, CrossAttention, make_cross_attention
from .config import ModelConfig

__all__ = [
    "Seq2SeqOutput",
    "Seq2SeqLM",
    "T5Seq2SeqLM",
    "BartSeq2SeqLM",
]

PathLike = Union[str, "os.PathLike[str]"]
HiddenStates = Tuple[torch.Tensor, ...]


@dataclass
class Seq2SeqOutput:
    """What :meth:`Seq2SeqLM.forward` returns (HF's ``Seq2SeqLMOutput`` fields of the same name).

    ``loss``: mean cross-entropy over labels that are not -100 (None without labels).
    ``encoder_hidden_states`` / ``decoder_hidden_states`` (with ``output_hidden_states=True``):
    the embedding output, then the output of every layer; for T5 the last one is after
    the final norm, as HF's.
    """

    logits: torch.Tensor
    loss: Optional[torch.Tensor] = None
    encoder_last_hidden_state: Optional[torch.Tensor] = None
    encoder_hidden_states: Optional[HiddenStates] = None
    decoder_hidden_states: Optional[HiddenStates] = None


# --- shared pieces ---------------------------------------------------------------------


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """HF's NewGELUActivation (gelu_new): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def activation_function(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The function of a canonical activation name (:func:`srformer.torch.config.parse_activation`)."""
    functions: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "relu": F.relu,
        "gelu": F.gelu,
        "gelu_tanh": _gelu_tanh,
        "silu": F.silu,
    }
    try:
        return functions[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r} (expected one of {sorted(functions)})") from None


def _softmax_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 as HF (softmax of half-precision scores in float32); float64 stays float64."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _clamp_half(hidden: torch.Tensor) -> torch.Tensor:
    """HF's guard against inf in float16 activations (no-op in other dtypes)."""
    if hidden.dtype == torch.float16:
        limit = torch.finfo(hidden.dtype).max - 1000
        hidden = torch.clamp(hidden, min=-limit, max=limit)
    return hidden


def _padding_blocked(attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, S] mask (1 = real) → [B, 1, 1, S] True where the key is padding."""
    return (attention_mask == 0)[:, None, None, :]


def _causal_blocked(length: int, device: torch.device) -> torch.Tensor:
    """[1, 1, T, T] True above the diagonal (a query never sees a later position)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)[None, None]


def _attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, blocked: torch.Tensor, bias: Optional[torch.Tensor],
    dropout: float, training: bool,
) -> torch.Tensor:
    """softmax(q kᵀ + bias, blocked keys excluded) v over [B, H, L, d] heads."""
    scores = torch.matmul(q, k.transpose(-1, -2))
    if bias is not None:
        scores = scores + bias
    scores = scores.masked_fill(blocked, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores.to(_softmax_dtype(scores.dtype)), dim=-1).type_as(scores)
    weights = F.dropout(weights, p=dropout, training=training)
    return torch.matmul(weights, v)


def _check_ids(ids: torch.Tensor, what: str) -> None:
    if ids.dim() != 2:
        raise ValueError(f"{what} must be [batch, length], got shape {list(ids.shape)}")
    if ids.shape[1] == 0:
        raise ValueError(f"{what} is empty")


class Seq2SeqLM(nn.Module):
    """An encoder-decoder language model (T5 or BART) with a pluggable cross-attention.

    Make one with :meth:`from_pretrained` (a HF model folder) or :meth:`from_config`
    (fresh weights). ``config`` is the parsed :class:`~srformer.torch.config.ModelConfig`,
    ``attention_options`` the cross-attention that every decoder layer runs.
    """

    config: ModelConfig
    attention_options: AttentionOptions

    def __init__(self, config: ModelConfig, attention: Optional[AttentionOptions] = None) -> None:
        super().__init__()
        self.config = config
        self.attention_options = attention if attention is not None else AttentionOptions.defaults_for(config.family)

    # --- construction -------------------------------------------------------------------
    @staticmethod
    def from_config(config: ModelConfig, attention: Optional[AttentionOptions] = None) -> "Seq2SeqLM":
        """A model of ``config``'s family with freshly initialised weights (HF's init)."""
        if config.family == "t5":
            return T5Seq2SeqLM(config, attention)
        if config.family == "bart":
            return BartSeq2SeqLM(config, attention)
        raise ValueError(f"unsupported model family {config.family!r} (supported: t5, bart)")

    @classmethod
    def from_pretrained(
        cls,
        folder: PathLike,
        attention: Optional[AttentionOptions] = None,
        fresh_raf: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> "Seq2SeqLM":
        """Loads a HF model folder (config.json and model.safetensors, a sharded
        model.safetensors.index.json, pytorch_model.bin or its sharded index).

        ``attention=None`` runs the cross-attention config.json says the checkpoint was
        trained with (our ``cross_attention`` block, or the authors' ``srformer`` block),
        else full attention with the family's defaults. ``fresh_raf`` lets SRformer run on
        a checkpoint without RAF parameters (initialised by the attention module, untrained).
        Errors (:class:`srformer.ConfigError`, :class:`srformer.TensorError`,
        :class:`srformer.FormatError`) name the file and tensors. Returned in eval mode.
        """
        from .loading import load_pretrained

        model = load_pretrained(folder, attention=attention, fresh_raf=fresh_raf, dtype=dtype)
        if cls is not Seq2SeqLM and not isinstance(model, cls):
            raise TypeError(f"{os.fspath(folder)} holds a {model.config.family} model, not a {cls.__name__}")
        return model

    # --- what subclasses provide ---------------------------------------------------------
    def _encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, collect: bool) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        raise NotImplementedError

    def _decode(
        self, decoder_input_ids: torch.Tensor, encoder_hidden: torch.Tensor, encoder_mask: torch.Tensor,
        query_mode: str, collect: bool,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        raise NotImplementedError

    def cross_attention_prefixes(self) -> List[str]:
        """state_dict prefix (ending in '.') of every decoder layer's cross-attention module."""
        raise NotImplementedError

    def cross_attention_modules(self) -> List[CrossAttention]:
        """Every decoder layer's cross-attention module, in layer order."""
        raise NotImplementedError

    def embedding_names(self) -> List[str]:
        """Names of the token embedding in the state_dict, the canonical one first
        (then the encoder's and decoder's aliases, in the C++ loader's order)."""
        raise NotImplementedError

    def tied_aliases(self) -> List[str]:
        """state_dict names that alias another (HF stores tied tensors once):
        the embedding's aliases and, when tied, ``lm_head.weight``."""
        aliases = self.embedding_names()[1:]
        if self.config.tie_word_embeddings:
            aliases.append("lm_head.weight")
        return aliases

    # --- public API -----------------------------------------------------------------------
    def _default_mask(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> torch.Tensor:
        if attention_mask is None:
            return torch.ones_like(input_ids)
        if attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask has shape {list(attention_mask.shape)} but input_ids {list(input_ids.shape)}"
            )
        return attention_mask

    def encode(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Encoder last hidden state [B, S, d_model] (HF's ``encoder_last_hidden_state``)."""
        _check_ids(input_ids, "input_ids")
        hidden, _ = self._encode(input_ids, self._default_mask(input_ids, attention_mask), False)
        return hidden

    def decode(
        self,
        decoder_input_ids: torch.Tensor,
        encoder_hidden: torch.Tensor,
        encoder_mask: Optional[torch.Tensor] = None,
        query_mode: str = "incremental",
    ) -> torch.Tensor:
        """Teacher-forced logits [B, T, vocab] of ``decoder_input_ids`` (positions 0..T-1)
        over an encoder output; ``encoder_mask`` [B, S] (1 = real token, None = all real)."""
        _check_ids(decoder_input_ids, "decoder_input_ids")
        if encoder_mask is None:
            encoder_mask = torch.ones(encoder_hidden.shape[:2], dtype=torch.long, device=encoder_hidden.device)
        hidden, _ = self._decode(decoder_input_ids, encoder_hidden, encoder_mask, query_mode, False)
        return self._logits(hidden)

    def _logits(self, decoder_output: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def shift_right(self, labels: torch.Tensor) -> torch.Tensor:
        """HF's ``_shift_right`` / ``shift_tokens_right``: decoder_start_token_id, then the
        labels without the last; -100 (ignored label) becomes pad_token_id."""
        shifted = labels.new_zeros(labels.shape)
        shifted[..., 1:] = labels[..., :-1].clone()
        shifted[..., 0] = self.config.decoder_start_token_id
        return shifted.masked_fill(shifted == -100, self.config.pad_token_id)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        decoder_input_ids: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        query_mode: str = "incremental",
        output_hidden_states: bool = False,
    ) -> Seq2SeqOutput:
        """Encodes, decodes teacher-forced and (with ``labels``) computes HF's loss.

        Without ``decoder_input_ids`` they are ``shift_right(labels)``. ``query_mode`` goes
        to the cross-attention ("incremental", or the SRformer authors' "paper_training" /
        "paper_eval").
        """
        _check_ids(input_ids, "input_ids")
        attention_mask = self._default_mask(input_ids, attention_mask)
        if decoder_input_ids is None:
            if labels is None:
                raise ValueError("forward needs decoder_input_ids or labels")
            decoder_input_ids = self.shift_right(labels)
        _check_ids(decoder_input_ids, "decoder_input_ids")
        encoder_hidden, encoder_states = self._encode(input_ids, attention_mask, output_hidden_states)
        decoder_hidden, decoder_states = self._decode(
            decoder_input_ids, encoder_hidden, attention_mask, query_mode, output_hidden_states
        )
        logits = self._logits(decoder_hidden)
        loss: Optional[torch.Tensor] = None
        if labels is not None:
            if labels.shape != decoder_input_ids.shape:
                raise ValueError(
                    f"labels have shape {list(labels.shape)} but decoder_input_ids {list(decoder_input_ids.shape)}"
                )
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).to(logits.device), ignore_index=-100
            )
        return Seq2SeqOutput(
            logits=logits,
            loss=loss,
            encoder_last_hidden_state=encoder_hidden,
            encoder_hidden_states=tuple(encoder_states) if output_hidden_states else None,
            decoder_hidden_states=tuple(decoder_states) if output_hidden_states else None,
        )


# --- T5 ------------------------------------------------------------------------------------


class T5LayerNorm(nn.Module):
    """RMS norm without mean or bias; the variance in float32 (float64 in a float64 model)."""

    def __init__(self, d_model: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d_model))
        self.variance_epsilon = eps

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        variance = hidden.to(_softmax_dtype(hidden.dtype)).pow(2).mean(-1, keepdim=True)
        hidden = hidden * torch.rsqrt(variance + self.variance_epsilon)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            hidden = hidden.to(self.weight.dtype)
        return self.weight * hidden


def relative_position_bucket(
    relative_position: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """HF's ``T5Attention._relative_position_bucket`` (memory position − query position → bucket)."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    if_large = max_exact + (
        torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    if_large = torch.min(if_large, torch.full_like(if_large, num_buckets - 1))
    return buckets + torch.where(is_small, relative_position, if_large)


class T5Attention(nn.Module):
    """T5 self-attention: q, k, v, o without bias or scaling; block 0 owns the
    relative position bias table shared by the stack."""

    def __init__(self, config: ModelConfig, is_decoder: bool, has_relative_attention_bias: bool) -> None:
        super().__init__()
        self.is_decoder = is_decoder
        self.num_heads = config.decoder_heads if is_decoder else config.encoder_heads
        self.head_dim = config.head_dim
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.dropout = config.dropout
        inner = self.num_heads * self.head_dim
        self.q = nn.Linear(config.d_model, inner, bias=False)
        self.k = nn.Linear(config.d_model, inner, bias=False)
        self.v = nn.Linear(config.d_model, inner, bias=False)
        self.o = nn.Linear(inner, config.d_model, bias=False)
        self.relative_attention_bias: Optional[nn.Embedding] = None
        if has_relative_attention_bias:
            self.relative_attention_bias = nn.Embedding(self.num_buckets, self.num_heads)

    def compute_bias(self, query_length: int, key_length: int, device: torch.device) -> torch.Tensor:
        """[1, H, query_length, key_length] position bias (layer 0 only)."""
        if self.relative_attention_bias is None:
            raise RuntimeError("only the first T5 block holds the relative position bias")
        context = torch.arange(query_length, dtype=torch.long, device=device)[:, None]
        memory = torch.arange(key_length, dtype=torch.long, device=device)[None, :]
        buckets = relative_position_bucket(memory - context, not self.is_decoder, self.num_buckets, self.max_distance)
        values = self.relative_attention_bias(buckets)  # [q, k, H]
        return values.permute([2, 0, 1]).unsqueeze(0)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, hidden: torch.Tensor, blocked: torch.Tensor, position_bias: torch.Tensor) -> torch.Tensor:
        batch, length, _ = hidden.shape
        context = _attend(
            self._heads(self.q(hidden)), self._heads(self.k(hidden)), self._heads(self.v(hidden)),
            blocked, position_bias, self.dropout, self.training,
        )
        return self.o(context.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim))


class T5LayerSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig, is_decoder: bool, has_relative_attention_bias: bool) -> None:
        super().__init__()
        self.SelfAttention = T5Attention(config, is_decoder, has_relative_attention_bias)
        self.layer_norm = T5LayerNorm(config.d_model, config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor, blocked: torch.Tensor, position_bias: torch.Tensor) -> torch.Tensor:
        return hidden + self.dropout(self.SelfAttention(self.layer_norm(hidden), blocked, position_bias))


class T5LayerCrossAttention(nn.Module):
    def __init__(self, config: ModelConfig, attention: AttentionOptions) -> None:
        super().__init__()
        self.EncDecAttention = make_cross_attention(
            "t5", config.d_model, config.decoder_heads, config.head_dim, attention
        )
        self.layer_norm = T5LayerNorm(config.d_model, config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self, hidden: torch.Tensor, encoder_hidden: torch.Tensor, encoder_mask: torch.Tensor, query_mode: str
    ) -> torch.Tensor:
        attended = self.EncDecAttention(
            self.layer_norm(hidden), encoder_hidden, encoder_mask, first_position=0, query_mode=query_mode
        )
        return hidden + self.dropout(attended)


class T5DenseActDense(nn.Module):
    """wi → activation → dropout → wo (T5 v1.0)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.wi = nn.Linear(config.d_model, config.encoder_ffn_dim, bias=False)
        self.wo = nn.Linear(config.encoder_ffn_dim, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout)
        self.act = activation_function(config.activation)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.wo(self.dropout(self.act(self.wi(hidden))))


class T5DenseGatedActDense(nn.Module):
    """activation(wi_0 x) · wi_1 x → dropout → wo (T5 v1.1 / flan, "gated-gelu")."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.wi_0 = nn.Linear(config.d_model, config.encoder_ffn_dim, bias=False)
        self.wi_1 = nn.Linear(config.d_model, config.encoder_ffn_dim, bias=False)
        self.wo = nn.Linear(config.encoder_ffn_dim, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout)
        self.act = activation_function(config.activation)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.wo(self.dropout(self.act(self.wi_0(hidden)) * self.wi_1(hidden)))


class T5LayerFF(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.DenseReluDense: nn.Module = T5DenseGatedActDense(config) if config.gated_ffn else T5DenseActDense(config)
        self.layer_norm = T5LayerNorm(config.d_model, config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.dropout(self.DenseReluDense(self.layer_norm(hidden)))


class T5Block(nn.Module):
    """layer[0] self-attention, (decoder) layer[1] cross-attention, then the feed-forward."""

    def __init__(self, config: ModelConfig, is_decoder: bool, index: int, attention: AttentionOptions) -> None:
        super().__init__()
        self.is_decoder = is_decoder
        layers: List[nn.Module] = [T5LayerSelfAttention(config, is_decoder, index == 0)]
        if is_decoder:
            layers.append(T5LayerCrossAttention(config, attention))
        layers.append(T5LayerFF(config))
        self.layer = nn.ModuleList(layers)

    def forward(
        self,
        hidden: torch.Tensor,
        blocked: torch.Tensor,
        position_bias: torch.Tensor,
        encoder_hidden: Optional[torch.Tensor] = None,
        encoder_mask: Optional[torch.Tensor] = None,
        query_mode: str = "incremental",
    ) -> torch.Tensor:
        hidden = _clamp_half(self.layer[0](hidden, blocked, position_bias))
        if self.is_decoder:
            assert encoder_hidden is not None and encoder_mask is not None
            hidden = _clamp_half(self.layer[1](hidden, encoder_hidden, encoder_mask, query_mode))
        return _clamp_half(self.layer[-1](hidden))


class T5Stack(nn.Module):
    def __init__(self, config: ModelConfig, embed_tokens: nn.Embedding, is_decoder: bool, attention: AttentionOptions) -> None:
        super().__init__()
        self.is_decoder = is_decoder
        self.embed_tokens = embed_tokens
        layers = config.decoder_layers if is_decoder else config.encoder_layers
        self.block = nn.ModuleList([T5Block(config, is_decoder, i, attention) for i in range(layers)])
        self.final_layer_norm = T5LayerNorm(config.d_model, config.norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        input_ids: torch.Tensor,
        blocked: torch.Tensor,
        encoder_hidden: Optional[torch.Tensor] = None,
        encoder_mask: Optional[torch.Tensor] = None,
        query_mode: str = "incremental",
        collect: bool = False,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        hidden = self.dropout(self.embed_tokens(input_ids))
        length = input_ids.shape[1]
        first: T5LayerSelfAttention = self.block[0].layer[0]  # type: ignore[assignment]
        position_bias = first.SelfAttention.compute_bias(length, length, hidden.device).to(hidden.dtype)
        states: List[torch.Tensor] = []
        for block in self.block:
            if collect:
                states.append(hidden)
            hidden = block(hidden, blocked, position_bias, encoder_hidden, encoder_mask, query_mode)
        hidden = self.dropout(self.final_layer_norm(hidden))
        if collect:
            states.append(hidden)
        return hidden, states


class T5Seq2SeqLM(Seq2SeqLM):
    """HF's ``T5ForConditionalGeneration`` (v1.0 ReLU FFN and tied, scaled head; v1.1 /
    flan gated-gelu and untied head) with a pluggable decoder cross-attention."""

    def __init__(self, config: ModelConfig, attention: Optional[AttentionOptions] = None) -> None:
        if config.family != "t5":
            raise ValueError(f"T5Seq2SeqLM needs a t5 config, got {config.family!r}")
        super().__init__(config, attention)
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, self.shared, False, self.attention_options)
        self.decoder = T5Stack(config, self.shared, True, self.attention_options)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self._init_weights()
        if config.tie_word_embeddings:
            self.lm_head.weight = self.shared.weight

    def _init_weights(self) -> None:
        """HF's T5PreTrainedModel._init_weights (initializer_factor from config.json);
        the cross-attention's extra parameters keep the attention module's own init."""
        factor = float(self.config.raw.get("initializer_factor", 1.0) or 1.0)
        c = self.config
        with torch.no_grad():
            self.shared.weight.normal_(0.0, factor * 1.0)
            self.lm_head.weight.normal_(0.0, factor * 1.0)
            for module in self.modules():
                if isinstance(module, T5LayerNorm):
                    module.weight.fill_(factor * 1.0)
                elif isinstance(module, (T5Attention, CrossAttention)):
                    inner = module.num_heads * module.head_dim
                    module.q.weight.normal_(0.0, factor * (c.d_model * module.head_dim) ** -0.5)
                    module.k.weight.normal_(0.0, factor * c.d_model ** -0.5)
                    module.v.weight.normal_(0.0, factor * c.d_model ** -0.5)
                    module.o.weight.normal_(0.0, factor * inner ** -0.5)
                    bias = getattr(module, "relative_attention_bias", None)
                    if isinstance(bias, nn.Embedding):
                        bias.weight.normal_(0.0, factor * c.d_model ** -0.5)
                elif isinstance(module, T5DenseActDense):
                    module.wi.weight.normal_(0.0, factor * c.d_model ** -0.5)
                    module.wo.weight.normal_(0.0, factor * c.encoder_ffn_dim ** -0.5)
                elif isinstance(module, T5DenseGatedActDense):
                    module.wi_0.weight.normal_(0.0, factor * c.d_model ** -0.5)
                    module.wi_1.weight.normal_(0.0, factor * c.d_model ** -0.5)
                    module.wo.weight.normal_(0.0, factor * c.encoder_ffn_dim ** -0.5)

    def embedding_names(self) -> List[str]:
        return ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]

    def cross_attention_prefixes(self) -> List[str]:
        return [f"decoder.block.{i}.layer.1.EncDecAttention." for i in range(len(self.decoder.block))]

    def cross_attention_modules(self) -> List[CrossAttention]:
        return [block.layer[1].EncDecAttention for block in self.decoder.block]  # type: ignore[index]

    def _encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, collect: bool) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        return self.encoder(input_ids, _padding_blocked(attention_mask), collect=collect)

    def _decode(
        self, decoder_input_ids: torch.Tensor, encoder_hidden: torch.Tensor, encoder_mask: torch.Tensor,
        query_mode: str, collect: bool,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        blocked = _causal_blocked(decoder_input_ids.shape[1], decoder_input_ids.device)
        return self.decoder(decoder_input_ids, blocked, encoder_hidden, encoder_mask, query_mode, collect)

    def _logits(self, decoder_output: torch.Tensor) -> torch.Tensor:
        if self.config.scale_decoder_outputs:
            decoder_output = decoder_output * (self.config.d_model ** -0.5)
        return self.lm_head(decoder_output)


# --- BART ----------------------------------------------------------------------------------


class BartAttention(nn.Module):
    """BART self-attention: biased projections, queries scaled by head_dim^-0.5."""

    def __init__(self, config: ModelConfig, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = config.head_dim
        self.scaling = self.head_dim ** -0.5
        self.dropout = config.attention_dropout
        d = config.d_model
        self.k_proj = nn.Linear(d, d, bias=True)
        self.v_proj = nn.Linear(d, d, bias=True)
        self.q_proj = nn.Linear(d, d, bias=True)
        self.out_proj = nn.Linear(d, d, bias=True)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, hidden: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        batch, length, _ = hidden.shape
        context = _attend(
            self._heads(self.q_proj(hidden) * self.scaling), self._heads(self.k_proj(hidden)),
            self._heads(self.v_proj(hidden)), blocked, None, self.dropout, self.training,
        )
        return self.out_proj(context.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim))


class BartEncoderLayer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d = config.d_model
        self.self_attn = BartAttention(config, config.encoder_heads)
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=config.norm_eps)
        self.fc1 = nn.Linear(d, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, d)
        self.final_layer_norm = nn.LayerNorm(d, eps=config.norm_eps)
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout
        self.act = activation_function(config.activation)

    def forward(self, hidden: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        residual = hidden
        hidden = F.dropout(self.self_attn(hidden, blocked), p=self.dropout, training=self.training)
        hidden = self.self_attn_layer_norm(residual + hidden)
        residual = hidden
        hidden = F.dropout(self.act(self.fc1(hidden)), p=self.activation_dropout, training=self.training)
        hidden = F.dropout(self.fc2(hidden), p=self.dropout, training=self.training)
        hidden = self.final_layer_norm(residual + hidden)
        return _clamp_half(hidden)


class BartDecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig, attention: AttentionOptions) -> None:
        super().__init__()
        d = config.d_model
        self.self_attn = BartAttention(config, config.decoder_heads)
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=config.norm_eps)
        self.encoder_attn = make_cross_attention("bart", d, config.decoder_heads, config.head_dim, attention)
        self.encoder_attn_layer_norm = nn.LayerNorm(d, eps=config.norm_eps)
        self.fc1 = nn.Linear(d, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, d)
        self.final_layer_norm = nn.LayerNorm(d, eps=config.norm_eps)
        self.dropout = config.dropout
        self.activation_dropout = config.activation_dropout
        self.act = activation_function(config.activation)

    def forward(
        self, hidden: torch.Tensor, blocked: torch.Tensor, encoder_hidden: torch.Tensor, encoder_mask: torch.Tensor,
        query_mode: str,
    ) -> torch.Tensor:
        residual = hidden
        hidden = F.dropout(self.self_attn(hidden, blocked), p=self.dropout, training=self.training)
        hidden = self.self_attn_layer_norm(residual + hidden)
        residual = hidden
        hidden = self.encoder_attn(hidden, encoder_hidden, encoder_mask, first_position=0, query_mode=query_mode)
        hidden = F.dropout(hidden, p=self.dropout, training=self.training)
        hidden = self.encoder_attn_layer_norm(residual + hidden)
        residual = hidden
        hidden = F.dropout(self.act(self.fc1(hidden)), p=self.activation_dropout, training=self.training)
        hidden = F.dropout(self.fc2(hidden), p=self.dropout, training=self.training)
        hidden = self.final_layer_norm(residual + hidden)
        return _clamp_half(hidden)


class _BartStack(nn.Module):
    """Token embedding (scaled), learned positions (offset 2), layernorm_embedding, layers."""

    def __init__(self, config: ModelConfig, embed_tokens: nn.Embedding) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = embed_tokens
        self.embed_positions = nn.Embedding(config.max_position_embeddings + config.position_offset, config.d_model)
        self.layernorm_embedding = nn.LayerNorm(config.d_model, eps=config.norm_eps)
        self.embed_scale = config.embedding_scale
        self.dropout = config.dropout

    def _embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1]
        if length > self.config.max_position_embeddings:
            raise ValueError(
                f"sequence of {length} tokens is longer than max_position_embeddings = "
                f"{self.config.max_position_embeddings}"
            )
        positions = torch.arange(length, dtype=torch.long, device=input_ids.device) + self.config.position_offset
        hidden = self.embed_tokens(input_ids) * self.embed_scale + self.embed_positions(positions)
        return F.dropout(self.layernorm_embedding(hidden), p=self.dropout, training=self.training)


class BartEncoder(_BartStack):
    def __init__(self, config: ModelConfig, embed_tokens: nn.Embedding) -> None:
        super().__init__(config, embed_tokens)
        self.layers = nn.ModuleList([BartEncoderLayer(config) for _ in range(config.encoder_layers)])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, collect: bool = False) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        hidden = self._embed(input_ids)
        blocked = _padding_blocked(attention_mask)
        states: List[torch.Tensor] = []
        for layer in self.layers:
            if collect:
                states.append(hidden)
            hidden = layer(hidden, blocked)
        if collect:
            states.append(hidden)
        return hidden, states


class BartDecoder(_BartStack):
    def __init__(self, config: ModelConfig, embed_tokens: nn.Embedding, attention: AttentionOptions) -> None:
        super().__init__(config, embed_tokens)
        self.layers = nn.ModuleList([BartDecoderLayer(config, attention) for _ in range(config.decoder_layers)])

    def forward(
        self, input_ids: torch.Tensor, encoder_hidden: torch.Tensor, encoder_mask: torch.Tensor,
        query_mode: str = "incremental", collect: bool = False,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        hidden = self._embed(input_ids)
        blocked = _causal_blocked(input_ids.shape[1], input_ids.device)
        states: List[torch.Tensor] = []
        for layer in self.layers:
            if collect:
                states.append(hidden)
            hidden = layer(hidden, blocked, encoder_hidden, encoder_mask, query_mode)
        if collect:
            states.append(hidden)
        return hidden, states


class BartModel(nn.Module):
    def __init__(self, config: ModelConfig, attention: AttentionOptions) -> None:
        super().__init__()
        self.shared = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_token_id)
        self.encoder = BartEncoder(config, self.shared)
        self.decoder = BartDecoder(config, self.shared, attention)


class BartSeq2SeqLM(Seq2SeqLM):
    """HF's ``BartForConditionalGeneration`` with a pluggable decoder cross-attention."""

    final_logits_bias: torch.Tensor

    def __init__(self, config: ModelConfig, attention: Optional[AttentionOptions] = None) -> None:
        if config.family != "bart":
            raise ValueError(f"BartSeq2SeqLM needs a bart config, got {config.family!r}")
        super().__init__(config, attention)
        self.model = BartModel(config, self.attention_options)
        self.register_buffer("final_logits_bias", torch.zeros(1, config.vocab_size))
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self._init_weights()
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.shared.weight

    def _init_weights(self) -> None:
        """HF's BartPreTrainedModel._init_weights (init_std from config.json); the
        cross-attention's extra parameters keep the attention module's own init."""
        std = float(self.config.raw.get("init_std", 0.02) or 0.02)
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, CrossAttention):
                    for linear in (module.q_proj, module.k_proj, module.v_proj, module.out_proj):
                        linear.weight.normal_(0.0, std)
                        linear.bias.zero_()
                elif isinstance(module, nn.Linear) and not any(module is m for m in self._cross_linears()):
                    module.weight.normal_(0.0, std)
                    if module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, nn.Embedding):
                    module.weight.normal_(0.0, std)
                    if module.padding_idx is not None:
                        module.weight[module.padding_idx].zero_()
                elif isinstance(module, nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()

    def _cross_linears(self) -> List[nn.Module]:
        linears: List[nn.Module] = []
        for module in self.cross_attention_modules():
            linears.extend(m for m in module.modules() if isinstance(m, nn.Linear))
        return linears

    def embedding_names(self) -> List[str]:
        return ["model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"]

    def cross_attention_prefixes(self) -> List[str]:
        return [f"model.decoder.layers.{i}.encoder_attn." for i in range(len(self.model.decoder.layers))]

    def cross_attention_modules(self) -> List[CrossAttention]:
        return [layer.encoder_attn for layer in self.model.decoder.layers]  # type: ignore[attr-defined]

    def _encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, collect: bool) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        return self.model.encoder(input_ids, attention_mask, collect)

    def _decode(
        self, decoder_input_ids: torch.Tensor, encoder_hidden: torch.Tensor, encoder_mask: torch.Tensor,
        query_mode: str, collect: bool,
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        return self.model.decoder(decoder_input_ids, encoder_hidden, encoder_mask, query_mode, collect)

    def _logits(self, decoder_output: torch.Tensor) -> torch.Tensor:
        return self.lm_head(decoder_output) + self.final_logits_bias.to(decoder_output.dtype)

"""PyTorch side of srformer: T5 and BART with pluggable cross-attention (full,
segmented, SRformer; paper and causal semantics exactly as the C++ library computes
them), fine-tuning, and export to folders the C++ library loads.

Needs PyTorch (Debian: python3-torch); ``import srformer`` alone never imports it.

Models: :class:`Seq2SeqLM` (``Seq2SeqLM.from_pretrained(folder)``), with
``state_dict()`` names exactly HuggingFace's ``T5ForConditionalGeneration`` /
``BartForConditionalGeneration``; :class:`ModelConfig` parsed from config.json as the
C++ library parses it.
"""

from .attention import AttentionOptions, CrossAttention, make_cross_attention
from .config import ModelConfig, checkpoint_cross_attention, load_model_config, parse_model_config
from .loading import load_state, read_checkpoint
from .models import BartSeq2SeqLM, Seq2SeqLM, Seq2SeqOutput, T5Seq2SeqLM

__all__ = [
    "AttentionOptions",
    "CrossAttention",
    "make_cross_attention",
    "ModelConfig",
    "parse_model_config",
    "load_model_config",
    "checkpoint_cross_attention",
    "read_checkpoint",
    "load_state",
    "Seq2SeqLM",
    "T5Seq2SeqLM",
    "BartSeq2SeqLM",
    "Seq2SeqOutput",
]

"""srformer: T5 / BART summarization on the CPU with full, segmented or SRformer
(Segmented Recurrent Transformer) cross-attention.

A binding of the header-only C++ library. Everything here runs offline on a
HuggingFace model folder (config.json, safetensors weights, tokenizer files)::

    import srformer
    summarizer = srformer.Summarizer("examples/models/t5-demo")
    print(summarizer.summarize("A long document ...").text)

Main classes: :class:`Summarizer` (text in, summaries out; ``stream()`` for text as
it is generated), :class:`Tokenizer`, :class:`Model` (encode, teacher-forced logits,
generate) and the :mod:`srformer.safetensors` reader/writer. Errors derive from
:class:`Error`. PyTorch (``srformer.torch``) is optional and never imported here.
"""

from ._core import (
    ConfigError,
    EncoderOutput,
    Error,
    FormatError,
    GenerationOutput,
    InputError,
    Model,
    OptionError,
    ResourceError,
    Summarizer,
    Summary,
    SummaryBatch,
    SummaryStats,
    SummaryStream,
    TensorError,
    Tokenizer,
    TokenizerError,
    __version__,
    has_openmp,
    num_threads,
    set_num_threads,
)
from . import safetensors

__all__ = [
    "ConfigError",
    "EncoderOutput",
    "Error",
    "FormatError",
    "GenerationOutput",
    "InputError",
    "Model",
    "OptionError",
    "ResourceError",
    "Summarizer",
    "Summary",
    "SummaryBatch",
    "SummaryStats",
    "SummaryStream",
    "TensorError",
    "Tokenizer",
    "TokenizerError",
    "__version__",
    "has_openmp",
    "num_threads",
    "safetensors",
    "set_num_threads",
]

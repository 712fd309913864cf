"""Read and write safetensors files with the C++ library's implementation.

``load`` memory-maps the file and checks every structural rule of the format
before returning anything (a malformed file raises :class:`srformer.FormatError`
naming the file and tensor). Arrays are read-only views into the mapping where
the dtype allows (no copy), unless ``copy=True``. ``save`` writes atomically: a
failed write never leaves a truncated file behind.
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, Optional, Union

import numpy as np

from . import _core

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["load", "load_metadata", "save"]


def load(path: PathLike, *, copy: bool = False) -> Dict[str, np.ndarray]:
    """Tensors of a ``.safetensors`` file, a model folder (``model.safetensors`` or
    a sharded ``model.safetensors.index.json``) or an index file.

    Each dtype keeps its numpy equivalent; BF16 (which numpy lacks) is widened to
    float32 exactly. Without ``copy`` the arrays are read-only views into the
    memory-mapped file (aligned tensors) and keep it mapped while they live.
    """
    return _core.safetensors_load(os.fspath(path), copy)


def load_metadata(path: PathLike) -> Dict[str, str]:
    """The ``__metadata__`` strings of a file (merged over a folder's shards)."""
    return _core.safetensors_load_metadata(os.fspath(path))


def save(path: PathLike, tensors: Mapping[str, np.ndarray], metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes ``tensors`` (name -> array; any bool, integer or float16/32/64 dtype)
    to ``path`` as the HF ``safetensors`` package does: tensors ordered by alignment
    then name, header padded to 8 bytes, ``metadata`` as ``__metadata__``.

    Arrays are made C-contiguous and little-endian first (copies where needed).
    The file is replaced atomically.
    """
    prepared: Dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        array = np.asarray(value, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        prepared[name] = array
    _core.safetensors_save(os.fspath(path), prepared, dict(metadata or {}))

"""srformer.safetensors: the C++ reader (validation, zero-copy views) and writer."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

import srformer
from srformer import safetensors


def test_sharded_folder_loads_as_views(demo_model: Path):
    tensors = safetensors.load(demo_model)  # model.safetensors.index.json with 4 shards
    with open(demo_model / "model.safetensors.index.json", encoding="utf-8") as f:
        names = set(json.load(f)["weight_map"])
    assert set(tensors) == names
    shared = tensors["shared.weight"]
    assert shared.dtype == np.float32 and shared.shape == (8000, 256)
    assert not shared.flags.writeable and not shared.flags.owndata  # a view into the mapping
    copied = safetensors.load(demo_model, copy=True)["shared.weight"]
    assert copied.flags.writeable and copied.flags.owndata
    np.testing.assert_array_equal(copied, shared)


def test_round_trip_every_numpy_dtype(tmp_path: Path):
    rng = np.random.default_rng(0)
    tensors = {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f16": rng.standard_normal(5).astype(np.float16),
        "f64": rng.standard_normal((2, 2, 2)),
        "i64": np.arange(-3, 3, dtype=np.int64),
        "i32": np.arange(7, dtype=np.int32).reshape(7, 1),
        "i16": np.array([-2, 2], dtype=np.int16),
        "i8": np.array([-128, 127], dtype=np.int8),
        "u8": np.array([0, 255], dtype=np.uint8),
        "u16": np.array([65535], dtype=np.uint16),
        "u32": np.array([2**32 - 1], dtype=np.uint32),
        "u64": np.array([2**63], dtype=np.uint64),
        "bool": np.array([True, False, True]),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "fortran": np.asfortranarray(rng.standard_normal((3, 2)).astype(np.float32)),
        "big_endian": np.array([1.0, 2.0], dtype=">f4"),
    }
    path = tmp_path / "all.safetensors"
    safetensors.save(path, tensors, {"format": "np", "note": "ünïcode"})
    loaded = safetensors.load(path)
    assert set(loaded) == set(tensors)
    for name, array in tensors.items():
        assert loaded[name].shape == array.shape, name
        assert loaded[name].dtype == array.dtype.newbyteorder("="), name
        np.testing.assert_array_equal(loaded[name], array, err_msg=name)
    assert safetensors.load_metadata(path) == {"format": "np", "note": "ünïcode"}
    header_size = struct.unpack("<Q", path.read_bytes()[:8])[0]
    assert header_size % 8 == 0


def test_bf16_is_widened_to_float32(tmp_path: Path):
    values = np.array([1.0, -2.5, 3.140625], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype(np.uint16)
    header = json.dumps({"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    header += b" " * (-len(header) % 8)
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bf16.tobytes())
    loaded = safetensors.load(path)["x"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, values)


def test_writer_matches_a_file_written_by_huggingface(data_dir: Path, tmp_path: Path):
    source = data_dir / "trained-t5-small-demo" / "golden.safetensors"
    out = tmp_path / "again.safetensors"
    safetensors.save(out, safetensors.load(source), safetensors.load_metadata(source))
    assert out.read_bytes() == source.read_bytes()


def test_bad_files_and_values_are_refused(tmp_path: Path):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(srformer.FormatError, match="truncated.safetensors"):
        safetensors.load(truncated)
    with pytest.raises(srformer.FormatError):
        safetensors.load(tmp_path / "missing.safetensors")
    with pytest.raises(srformer.FormatError, match="neither"):
        safetensors.load(tmp_path)
    keep = tmp_path / "keep.safetensors"
    safetensors.save(keep, {"a": np.ones(2, dtype=np.float32)})
    before = keep.read_bytes()
    with pytest.raises(srformer.InputError, match="cannot store"):
        safetensors.save(keep, {"c": np.array([1 + 2j])})
    with pytest.raises(srformer.InputError, match="__metadata__"):
        safetensors.save(keep, {"__metadata__": np.ones(1, dtype=np.float32)})
    with pytest.raises(srformer.InputError):
        safetensors.save(keep, {"": np.ones(1, dtype=np.float32)})
    assert keep.read_bytes() == before  # a refused save leaves the file as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.safetensors", "truncated.safetensors"]

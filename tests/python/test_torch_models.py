"""srformer.torch models (T5, T5 v1.1, BART) against HuggingFace's goldens and the C++
library: logits, encoder and decoder hidden states, HF state_dict names, loss,
loading rules (tied aliases, pytorch_model.bin, missing / unexpected / misshapen
tensors, RAF parameters) and config.json parsing identical to the C++ parser.

Tolerance: max|Δ| ≤ 1e-5 · max(1, max|reference|), float32.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import srformer  # noqa: E402
import srformer.safetensors  # noqa: E402
from srformer.torch import (  # noqa: E402
    AttentionOptions,
    BartSeq2SeqLM,
    Seq2SeqLM,
    T5Seq2SeqLM,
    checkpoint_cross_attention,
    load_model_config,
    parse_model_config,
)
from srformer.torch.loading import read_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
HF_TINY = ["bart_tiny", "bart_tiny_scaled", "t5_tiny", "t5v11_tiny"]
DEMO = REPO / "examples" / "models" / "t5-demo"
CAIKIT = DATA / "caikit-tiny-t5"
OFFICIAL = DATA / "srformer-official"
RELATIVE_TOLERANCE = 1e-5


def max_error(got: "torch.Tensor", reference: np.ndarray) -> float:
    return float(np.max(np.abs(got.detach().double().cpu().numpy() - np.asarray(reference, dtype=np.float64))))


def assert_close(got: "torch.Tensor", reference: np.ndarray, what: str) -> None:
    assert tuple(got.shape) == tuple(reference.shape), f"{what}: shape {tuple(got.shape)} vs {reference.shape}"
    limit = RELATIVE_TOLERANCE * max(1.0, float(np.max(np.abs(reference))))
    error = max_error(got, reference)
    assert error <= limit, f"{what}: max |diff| {error:.3g} > {limit:.3g}"


def ids(array: np.ndarray) -> "torch.Tensor":
    return torch.from_numpy(np.array(array, dtype=np.int64))


@functools.lru_cache(maxsize=None)
def golden(path: str) -> Dict[str, np.ndarray]:
    return srformer.safetensors.load(path, copy=True)


@functools.lru_cache(maxsize=None)
def pretrained(folder: str) -> Seq2SeqLM:
    return Seq2SeqLM.from_pretrained(folder)


def srformer_attention_available(family: str, kind: str) -> bool:
    from srformer.torch.attention import make_cross_attention

    try:
        make_cross_attention(family, 64, 4, 16, AttentionOptions(kind=kind))
    except NotImplementedError:
        return False
    return True


# --- HF goldens ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HF_TINY)
def test_hf_tiny_matches_huggingface(name: str) -> None:
    folder = DATA / "hf-tiny" / name
    g = golden(str(folder / "golden.safetensors"))
    model = pretrained(str(folder))
    assert not model.training
    with torch.no_grad():
        out = model(ids(g["input_ids"]), ids(g["attention_mask"]), ids(g["decoder_input_ids"]), output_hidden_states=True)
        single = model(ids(g["single.input_ids"]), decoder_input_ids=ids(g["single.decoder_input_ids"]))
    assert out.logits.dtype == torch.float32
    assert_close(out.encoder_last_hidden_state, g["encoder_last_hidden_state"], f"{name} encoder_last_hidden_state")
    assert_close(out.logits, g["logits"], f"{name} logits")
    assert_close(single.logits, g["single.logits"], f"{name} single.logits")
    assert out.encoder_hidden_states is not None and out.decoder_hidden_states is not None
    encoder_states = sorted(k for k in g if k.startswith("encoder_hidden_states."))
    decoder_states = sorted(k for k in g if k.startswith("decoder_hidden_states."))
    assert len(out.encoder_hidden_states) == len(encoder_states)
    assert len(out.decoder_hidden_states) == len(decoder_states)
    for i, state in enumerate(out.encoder_hidden_states):
        assert_close(state, g[f"encoder_hidden_states.{i}"], f"{name} encoder_hidden_states.{i}")
    for i, state in enumerate(out.decoder_hidden_states):
        assert_close(state, g[f"decoder_hidden_states.{i}"], f"{name} decoder_hidden_states.{i}")
    # encode / decode give the same numbers as forward
    with torch.no_grad():
        encoded = model.encode(ids(g["input_ids"]), ids(g["attention_mask"]))
        logits = model.decode(ids(g["decoder_input_ids"]), encoded, ids(g["attention_mask"]))
    assert torch.equal(encoded, out.encoder_last_hidden_state)
    assert torch.equal(logits, out.logits)


def test_caikit_tiny_t5_matches_huggingface() -> None:
    g = golden(str(CAIKIT / "golden.safetensors"))
    model = pretrained(str(CAIKIT))
    with torch.no_grad():
        out = model(ids(g["input_ids"]), decoder_input_ids=ids(g["decoder_input_ids"]))
    assert_close(out.encoder_last_hidden_state, g["encoder_last_hidden_state"], "caikit encoder_last_hidden_state")
    assert_close(out.logits, g["logits"], "caikit logits")


def test_demo_model_matches_huggingface() -> None:
    """The trained T5 v1.1 demo (gated-gelu, untied head, sharded safetensors)."""
    g = golden(str(DATA / "trained-t5-small-demo" / "golden.safetensors"))
    model = pretrained(str(DEMO))
    assert model.config.gated_ffn and not model.config.tie_word_embeddings and not model.config.scale_decoder_outputs
    assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()
    prefixes = sorted({name.split(".")[0] for name in g})
    assert len(prefixes) == 2
    for prefix in prefixes:
        with torch.no_grad():
            out = model(ids(g[prefix + ".input_ids"]), decoder_input_ids=ids(g[prefix + ".decoder_input_ids"]))
        assert_close(out.encoder_last_hidden_state, g[prefix + ".encoder_last_hidden_state"], prefix + " encoder")
        assert_close(out.logits, g[prefix + ".logits"], prefix + " logits")


@pytest.mark.parametrize("family", ["t5", "bart"])
def test_authors_checkpoint_with_full_attention(family: str) -> None:
    """The SRformer authors' checkpoints (RAF parameters and tied copies stored) run
    with full attention: their 'full' golden; the RAF parameters are ignored."""
    folder = OFFICIAL / family
    g = golden(str(folder / "full" / "golden.safetensors"))
    model = Seq2SeqLM.from_pretrained(folder, attention=AttentionOptions(kind="full"))
    for part in ("batch", "single"):
        with torch.no_grad():
            out = model(ids(g[f"{part}.input_ids"]), ids(g[f"{part}.attention_mask"]), ids(g[f"{part}.decoder_input_ids"]))
        assert_close(out.encoder_last_hidden_state, g[f"{part}.encoder_last_hidden_state"], f"{family} {part} encoder")
        assert_close(out.logits, g[f"{part}.logits_tf_eval"], f"{family} {part} logits")


@pytest.mark.parametrize("family", ["t5", "bart"])
@pytest.mark.parametrize("kind", ["segmented", "srformer"])
def test_authors_checkpoint_with_their_attention(family: str, kind: str) -> None:
    """Segmented / SRformer (paper semantics, G = 16 as the goldens) through the model's
    decoder: the authors' eval, training and step-by-step forwards."""
    if not srformer_attention_available(family, kind):
        pytest.skip(f"{kind} cross-attention is not implemented in srformer.torch.attention yet")
    folder = OFFICIAL / family
    g = golden(str(folder / kind / "golden.safetensors"))
    defaults = AttentionOptions.defaults_for(family)
    options = AttentionOptions(kind=kind, segment_size=defaults.segment_size, gen_len=16, semantics="paper")
    model = Seq2SeqLM.from_pretrained(folder, attention=options)
    for part in ("batch", "single"):
        input_ids, mask = ids(g[f"{part}.input_ids"]), ids(g[f"{part}.attention_mask"])
        decoder_ids = ids(g[f"{part}.decoder_input_ids"])
        with torch.no_grad():
            encoded = model.encode(input_ids, mask)
            for mode, key in (("paper_eval", "logits_tf_eval"), ("paper_training", "logits_tf_train"),
                              ("incremental", "logits_tf_stepwise")):
                logits = model.decode(decoder_ids, encoded, mask, query_mode=mode)
                assert_close(logits, g[f"{part}.{key}"], f"{family} {kind} {part} {mode}")


# --- the C++ library through the binding -----------------------------------------------------


@pytest.mark.parametrize("name", HF_TINY)
def test_matches_cpp_library(name: str) -> None:
    """Padded batch (row 1 padded from 173 to 300 tokens): torch vs srformer.Model."""
    folder = DATA / "hf-tiny" / name
    g = golden(str(folder / "golden.safetensors"))
    cpp = srformer.Model.from_folder(folder)
    encoded = cpp.encode(g["input_ids"], g["attention_mask"])
    cpp_logits = cpp.logits(encoded, g["decoder_input_ids"])
    model = pretrained(str(folder))
    with torch.no_grad():
        out = model(ids(g["input_ids"]), ids(g["attention_mask"]), ids(g["decoder_input_ids"]))
    assert_close(out.encoder_last_hidden_state, encoded.last_hidden_state, f"{name} encoder vs C++")
    assert_close(out.logits, cpp_logits, f"{name} logits vs C++")


CPP_CONFIG_FIELDS = [
    "family", "vocab_size", "d_model", "encoder_layers", "decoder_layers", "encoder_heads", "decoder_heads",
    "head_dim", "encoder_ffn_dim", "decoder_ffn_dim", "gated_ffn", "pad_token_id", "decoder_start_token_id",
]

ALL_FOLDERS = [DATA / "hf-tiny" / n for n in HF_TINY] + [CAIKIT, DEMO, OFFICIAL / "t5", OFFICIAL / "bart"]


@pytest.mark.parametrize("folder", ALL_FOLDERS, ids=lambda p: p.name if p.parent.name != "srformer-official" else "official-" + p.name)
def test_config_and_attention_as_cpp(folder: Path) -> None:
    config = load_model_config(folder)
    cpp = srformer.Model.from_folder(folder)
    for key in CPP_CONFIG_FIELDS:
        assert getattr(config, key) == cpp.config[key], key
    assert config.eos_token_ids == cpp.config["eos_token_id"]
    assert np.float32(config.norm_eps) == np.float32(cpp.config["norm_eps"])
    if config.family == "bart":
        assert config.max_position_embeddings == cpp.config["max_position_embeddings"]
    # the cross-attention the checkpoint was trained with (C++ checkpoint_cross_attention)
    options = checkpoint_cross_attention(config, set(read_checkpoint(folder))) or AttentionOptions.defaults_for(config.family)
    assert {"kind": options.kind, "segment": options.segment_size, "gen_len": options.gen_len,
            "mode": options.semantics} == cpp.attention


def test_config_fields() -> None:
    t5 = load_model_config(DATA / "hf-tiny" / "t5_tiny")
    assert (t5.activation, t5.gated_ffn, t5.tie_word_embeddings, t5.scale_decoder_outputs) == ("relu", False, True, True)
    assert t5.output_scale == pytest.approx(64 ** -0.5) and t5.position_offset == 0
    v11 = load_model_config(DATA / "hf-tiny" / "t5v11_tiny")
    assert (v11.activation, v11.gated_ffn, v11.scale_decoder_outputs) == ("gelu_tanh", True, False)
    assert v11.inner_dim(True) == 96 and v11.d_model == 64
    caikit = load_model_config(CAIKIT)  # transformers 4.x: no scale_decoder_outputs, scaled when tied
    assert caikit.scale_decoder_outputs and caikit.relative_attention_num_buckets == 8
    assert caikit.relative_attention_max_distance == 128 and caikit.decoder_layers == 5
    bart = load_model_config(DATA / "hf-tiny" / "bart_tiny_scaled")
    assert bart.scale_embedding and bart.embedding_scale == pytest.approx(8.0) and bart.position_offset == 2
    assert (bart.activation, bart.norm_eps, bart.bos_token_id, bart.decoder_start_token_id) == ("gelu", 1e-5, 0, 2)
    assert not load_model_config(DATA / "hf-tiny" / "bart_tiny").scale_embedding


def _t5_base() -> Dict[str, Any]:
    return json.loads((DATA / "hf-tiny" / "t5_tiny" / "config.json").read_text())


def _bart_base() -> Dict[str, Any]:
    return json.loads((DATA / "hf-tiny" / "bart_tiny" / "config.json").read_text())


def _set(**changes: Any) -> Callable[[Dict[str, Any]], None]:
    def apply(config: Dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is _DROP:
                config.pop(key, None)
            else:
                config[key] = value
    return apply


_DROP = object()

CONFIG_ERRORS = [
    ("t5", _set(vocab_size=_DROP)),
    ("t5", _set(d_model="64")),
    ("t5", _set(d_model=True)),
    ("t5", _set(d_model=64.5)),
    ("t5", _set(num_heads=None)),
    ("t5", _set(vocab_size=0)),
    ("t5", _set(d_kv=2 ** 40)),
    ("t5", _set(num_layers=2 ** 70)),
    ("t5", _set(feed_forward_proj="gated-tanh")),
    ("t5", _set(relative_attention_num_buckets=2)),
    ("t5", _set(relative_attention_max_distance=16)),
    ("t5", _set(layer_norm_epsilon=0)),
    ("t5", _set(layer_norm_epsilon=1e300)),
    ("t5", _set(layer_norm_epsilon=1e-50)),
    ("t5", _set(eos_token_id=[])),
    ("t5", _set(eos_token_id=[1, "x"])),
    ("t5", _set(eos_token_id=5000)),
    ("t5", _set(pad_token_id=-1)),
    ("t5", _set(tie_word_embeddings=1)),
    ("t5", _set(model_type="gpt2")),
    ("t5", _set(is_encoder_decoder=False)),
    ("bart", _set(encoder_attention_heads=3)),
    ("bart", _set(decoder_attention_heads=8)),
    ("bart", _set(encoder_attention_heads=0)),
    ("bart", _set(normalize_before=True)),
    ("bart", _set(add_bias_logits=True)),
    ("bart", _set(activation_function="tanh")),
    ("bart", _set(max_position_embeddings=0)),
    ("bart", _set(bos_token_id=1000)),
]


@pytest.mark.parametrize("case", range(len(CONFIG_ERRORS)))
def test_config_errors_as_cpp(tmp_path: Path, case: int) -> None:
    """Every refusal has the C++ parser's class and message (config.json only: the C++
    model stops at the config before looking for weights)."""
    family, change = CONFIG_ERRORS[case]
    config = _t5_base() if family == "t5" else _bart_base()
    change(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(srformer.ConfigError) as cpp_error:
        srformer.Model.from_folder(tmp_path)
    with pytest.raises(srformer.ConfigError) as ours:
        load_model_config(tmp_path)
    assert str(ours.value) == str(cpp_error.value)


CONFIG_ACCEPTED = [
    (DATA / "hf-tiny" / "t5v11_tiny",
     _set(d_model=64.0, pad_token_id=None, eos_token_id=[1, 2], feed_forward_proj="gated-silu")),
    (DEMO, _set(scale_decoder_outputs=_DROP, num_decoder_layers=_DROP, layer_norm_epsilon=1e-5)),
    (DATA / "hf-tiny" / "t5_tiny", _set(scale_decoder_outputs=_DROP, feed_forward_proj="gelu", num_layers=2.0)),
    (DATA / "hf-tiny" / "bart_tiny",
     _set(activation_function="gelu_new", scale_embedding=True, decoder_start_token_id=None, eos_token_id=[2])),
]


@pytest.mark.parametrize("case", range(len(CONFIG_ACCEPTED)))
def test_config_values_as_cpp(tmp_path: Path, case: int) -> None:
    """Accepted variations read as the C++ reads them (same weights, changed config.json)."""
    source, change = CONFIG_ACCEPTED[case]
    config = json.loads((source / "config.json").read_text())
    change(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    for entry in source.iterdir():
        if entry.name.startswith("model"):
            os.symlink(entry, tmp_path / entry.name)
    ours = load_model_config(tmp_path)
    cpp = srformer.Model.from_folder(tmp_path).config
    for key in CPP_CONFIG_FIELDS:
        assert getattr(ours, key) == cpp[key], key
    assert ours.eos_token_ids == cpp["eos_token_id"]
    assert np.float32(ours.norm_eps) == np.float32(cpp["norm_eps"])


def test_config_special_rules() -> None:
    base = _t5_base()
    base.pop("scale_decoder_outputs")
    base["tie_word_embeddings"] = False
    assert not parse_model_config(base).scale_decoder_outputs
    base["feed_forward_proj"] = "gated-gelu"
    assert parse_model_config(base).activation == "gelu_tanh"  # HF: gated-gelu is gelu_new
    base["feed_forward_proj"] = "gelu"
    assert parse_model_config(base).activation == "gelu"
    base.pop("num_decoder_layers")
    assert parse_model_config(base).decoder_layers == base["num_layers"]
    bart = _bart_base()
    bart.pop("decoder_start_token_id")
    bart["eos_token_id"] = [2, 3]
    parsed = parse_model_config(bart)
    assert parsed.decoder_start_token_id == 2 and parsed.eos_token_ids == [2, 3] and parsed.eos_token_id == 2
    with pytest.raises(srformer.ConfigError, match="expected a JSON object"):
        parse_model_config([1, 2])


def test_cross_attention_blocks(tmp_path: Path) -> None:
    config = _t5_base()
    config["cross_attention"] = {"kind": "segmented", "segment_size": 32, "semantics": "causal"}
    parsed = parse_model_config(config)
    assert checkpoint_cross_attention(parsed, set()) == AttentionOptions("segmented", 32, 128, "causal")
    config["srformer"] = {"split_size": 16}  # ours wins
    assert checkpoint_cross_attention(parse_model_config(config), set()).kind == "segmented"  # type: ignore[union-attr]
    del config["cross_attention"]
    parsed = parse_model_config(config)
    assert checkpoint_cross_attention(parsed, {"decoder.block.0.layer.1.EncDecAttention.SNN_kv.weight"}) == \
        AttentionOptions("srformer", 16, 128, "paper")
    assert checkpoint_cross_attention(parsed, set()) == AttentionOptions("segmented", 16, 128, "paper")
    del config["srformer"]
    assert checkpoint_cross_attention(parse_model_config(config), set()) is None
    config["cross_attention"] = {"kind": "sparse"}
    with pytest.raises(srformer.OptionError, match="unknown cross-attention kind 'sparse'"):
        checkpoint_cross_attention(parse_model_config(config), set())
    config["cross_attention"] = {"segment_size": 0}
    with pytest.raises(srformer.OptionError):
        checkpoint_cross_attention(parse_model_config(config), set())
    config["cross_attention"] = "full"
    with pytest.raises(srformer.ConfigError, match="'cross_attention' must be an object"):
        checkpoint_cross_attention(parse_model_config(config), set())


# --- state_dict names ------------------------------------------------------------------------


def _without(names: "set[str]", removed: List[str]) -> "set[str]":
    return {n for n in names if n not in removed}


@pytest.mark.parametrize("folder", [DATA / "hf-tiny" / n for n in HF_TINY] + [CAIKIT, DEMO], ids=lambda p: p.name)
def test_state_dict_names_are_the_checkpoints(folder: Path) -> None:
    model = pretrained(str(folder))
    checkpoint = set(read_checkpoint(folder))
    aliases = model.tied_aliases()
    assert _without(set(model.state_dict()), aliases) == _without(checkpoint, aliases)
    # HF's full state_dict: every tied name present, and one tensor behind them
    state = model.state_dict()
    embedding = model.embedding_names()
    assert set(embedding) <= set(state) and "lm_head.weight" in state
    pointers = {state[name].data_ptr() for name in embedding}
    assert len(pointers) == 1
    assert (state["lm_head.weight"].data_ptr() in pointers) == model.config.tie_word_embeddings


def test_hf_names() -> None:
    t5 = pretrained(str(DATA / "hf-tiny" / "t5v11_tiny"))
    names = set(t5.state_dict())
    for name in ("shared.weight", "encoder.block.0.layer.0.SelfAttention.q.weight",
                 "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                 "encoder.block.1.layer.1.DenseReluDense.wi_0.weight", "decoder.block.1.layer.1.EncDecAttention.o.weight",
                 "decoder.block.1.layer.2.DenseReluDense.wi_1.weight", "decoder.final_layer_norm.weight", "lm_head.weight"):
        assert name in names, name
    assert "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight" not in names
    assert isinstance(t5, T5Seq2SeqLM)
    assert [p for p in t5.cross_attention_prefixes()] == [f"decoder.block.{i}.layer.1.EncDecAttention." for i in range(2)]
    bart = pretrained(str(DATA / "hf-tiny" / "bart_tiny"))
    names = set(bart.state_dict())
    for name in ("model.shared.weight", "model.encoder.layers.0.self_attn.k_proj.weight", "final_logits_bias",
                 "model.decoder.layers.2.encoder_attn.out_proj.bias", "model.decoder.embed_positions.weight",
                 "model.encoder.layernorm_embedding.bias", "lm_head.weight"):
        assert name in names, name
    assert isinstance(bart, BartSeq2SeqLM)
    assert tuple(bart.state_dict()["model.encoder.embed_positions.weight"].shape) == (1026, 64)
    assert float(bart.final_logits_bias.abs().max()) > 0  # bart_tiny's bias is non-zero


def test_authors_checkpoint_names_with_srformer() -> None:
    if not srformer_attention_available("t5", "srformer"):
        pytest.skip("srformer cross-attention is not implemented in srformer.torch.attention yet")
    for family in ("t5", "bart"):
        folder = OFFICIAL / family
        model = Seq2SeqLM.from_pretrained(folder)  # the checkpoint's own: srformer (SNN_kv present)
        assert model.attention_options.kind == "srformer"
        aliases = model.tied_aliases()
        assert _without(set(model.state_dict()), aliases) == _without(set(read_checkpoint(folder)), aliases)
        prefix = model.cross_attention_prefixes()[0]
        for local in ("SNN_kv.weight", "leak", "threshold"):
            assert prefix + local in model.state_dict()


# --- loss and labels -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t5_tiny", "bart_tiny"])
def test_loss_is_cross_entropy(name: str) -> None:
    folder = DATA / "hf-tiny" / name
    g = golden(str(folder / "golden.safetensors"))
    model = pretrained(str(folder))
    labels = ids(g["decoder_input_ids"])[:, 1:].clone()
    labels[1, -3:] = -100
    with torch.no_grad():
        out = model(ids(g["input_ids"]), ids(g["attention_mask"]), labels=labels)
    decoder_ids = model.shift_right(labels)
    assert decoder_ids[:, 0].eq(model.config.decoder_start_token_id).all()
    assert torch.equal(decoder_ids[:, 1:][labels[:, :-1] != -100], labels[:, :-1][labels[:, :-1] != -100])
    assert decoder_ids[1, -2:].eq(model.config.pad_token_id).all()  # -100 shifted in becomes pad
    log_probs = torch.log_softmax(out.logits.double(), dim=-1)
    keep = labels != -100
    manual = -log_probs[keep].gather(-1, labels[keep][:, None]).mean()
    assert out.loss is not None
    assert abs(float(out.loss) - float(manual)) <= 1e-5 * max(1.0, abs(float(manual)))
    with torch.no_grad():
        again = model(ids(g["input_ids"]), ids(g["attention_mask"]), decoder_ids, labels=labels)
    assert torch.equal(again.logits, out.logits) and float(again.loss) == float(out.loss)  # type: ignore[arg-type]


def test_shift_right() -> None:
    model = pretrained(str(DATA / "hf-tiny" / "bart_tiny"))
    labels = torch.tensor([[5, 6, 7, 2], [8, 2, -100, -100]])
    assert model.shift_right(labels).tolist() == [[2, 5, 6, 7], [2, 8, 2, 1]]


def test_training_step_has_gradients() -> None:
    model = Seq2SeqLM.from_pretrained(DATA / "hf-tiny" / "t5_tiny")
    model.train()
    out = model(torch.tensor([[5, 6, 7, 1]]), labels=torch.tensor([[8, 9, 1]]))
    assert out.loss is not None
    out.loss.backward()
    assert model.shared.weight.grad is not None
    assert model.decoder.block[0].layer[1].EncDecAttention.q.weight.grad is not None


# --- loading ---------------------------------------------------------------------------------


def _copy_folder(source: Path, target: Path, tensors: Optional[Dict[str, np.ndarray]] = None) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "config.json", target / "config.json")
    if tensors is not None:
        srformer.safetensors.save(target / "model.safetensors", tensors)
    return target


@pytest.mark.parametrize("name", ["t5_tiny", "bart_tiny"])
def test_pytorch_model_bin(tmp_path: Path, name: str) -> None:
    source = DATA / "hf-tiny" / name
    g = golden(str(source / "golden.safetensors"))
    model = pretrained(str(source))
    folder = _copy_folder(source, tmp_path / "bin")
    torch.save(model.state_dict(), folder / "pytorch_model.bin")  # HF-style, tied copies included
    reloaded = Seq2SeqLM.from_pretrained(folder)
    # sharded: pytorch_model.bin.index.json
    sharded = _copy_folder(source, tmp_path / "sharded")
    state = model.state_dict()
    names = sorted(state)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for k, part in enumerate(halves):
        shard = f"pytorch_model-0000{k + 1}-of-00002.bin"
        torch.save({n: state[n] for n in part}, sharded / shard)
        weight_map.update({n: shard for n in part})
    (sharded / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    resharded = Seq2SeqLM.from_pretrained(sharded)
    with torch.no_grad():
        expected = model(ids(g["input_ids"]), ids(g["attention_mask"]), ids(g["decoder_input_ids"])).logits
        for other in (reloaded, resharded):
            got = other(ids(g["input_ids"]), ids(g["attention_mask"]), ids(g["decoder_input_ids"])).logits
            assert torch.equal(got, expected)


def test_float64(tmp_path: Path) -> None:
    g = golden(str(DATA / "hf-tiny" / "t5v11_tiny" / "golden.safetensors"))
    model = Seq2SeqLM.from_pretrained(DATA / "hf-tiny" / "t5v11_tiny", dtype=torch.float64)
    with torch.no_grad():
        logits = model(ids(g["input_ids"]), ids(g["attention_mask"]), ids(g["decoder_input_ids"])).logits
    assert logits.dtype == torch.float64
    assert_close(logits, g["logits"], "float64 logits")


def test_tied_aliases_and_copies(tmp_path: Path) -> None:
    """HF stores a tied embedding under any of its names, or keeps copies: all load alike."""
    source = DATA / "hf-tiny" / "t5_tiny"
    g = golden(str(source / "golden.safetensors"))
    tensors = srformer.safetensors.load(source, copy=True)
    shared = tensors.pop("shared.weight")
    only_decoder = _copy_folder(source, tmp_path / "decoder", {**tensors, "decoder.embed_tokens.weight": shared})
    copies = _copy_folder(source, tmp_path / "copies", {**tensors, "shared.weight": shared, "lm_head.weight": shared,
                                                        "encoder.embed_tokens.weight": shared,
                                                        "decoder.embed_tokens.weight": shared})
    reference = pretrained(str(source))
    with torch.no_grad():
        expected = reference(ids(g["single.input_ids"]), decoder_input_ids=ids(g["single.decoder_input_ids"])).logits
        for folder in (only_decoder, copies):
            model = Seq2SeqLM.from_pretrained(folder)
            got = model(ids(g["single.input_ids"]), decoder_input_ids=ids(g["single.decoder_input_ids"])).logits
            assert torch.equal(got, expected), folder.name


def test_bart_without_model_prefix_and_bias(tmp_path: Path) -> None:
    """A BartModel checkpoint (no "model." prefix, no lm_head, no final_logits_bias)."""
    source = DATA / "hf-tiny" / "bart_tiny_scaled"
    tensors = srformer.safetensors.load(source, copy=True)
    bias = tensors.pop("final_logits_bias")
    stripped = {name[len("model."):]: value for name, value in tensors.items()}
    model = Seq2SeqLM.from_pretrained(_copy_folder(source, tmp_path / "bare", stripped))
    reference = pretrained(str(source))
    assert float(model.final_logits_bias.abs().max()) == 0.0
    for name, value in reference.state_dict().items():
        if name != "final_logits_bias":
            assert torch.equal(model.state_dict()[name], value), name
    assert float(np.abs(bias).max()) == float(reference.final_logits_bias.abs().max())


def test_missing_tensor_is_named(tmp_path: Path) -> None:
    source = DATA / "hf-tiny" / "bart_tiny"
    tensors = srformer.safetensors.load(source, copy=True)
    del tensors["model.decoder.layers.1.fc2.bias"]
    del tensors["model.encoder.layernorm_embedding.weight"]
    folder = _copy_folder(source, tmp_path / "missing", tensors)
    with pytest.raises(srformer.TensorError) as error:
        Seq2SeqLM.from_pretrained(folder)
    message = str(error.value)
    assert "missing tensors" in message and str(folder) in message
    assert "'model.decoder.layers.1.fc2.bias'" in message and "'model.encoder.layernorm_embedding.weight'" in message
    # no embedding under any name
    tensors = srformer.safetensors.load(DATA / "hf-tiny" / "t5_tiny", copy=True)
    del tensors["shared.weight"]
    with pytest.raises(srformer.TensorError, match="none of 'shared.weight', 'encoder.embed_tokens.weight'"):
        Seq2SeqLM.from_pretrained(_copy_folder(DATA / "hf-tiny" / "t5_tiny", tmp_path / "no-embedding", tensors))
    # untied head without lm_head.weight
    tensors = srformer.safetensors.load(DEMO, copy=True)
    del tensors["lm_head.weight"]
    with pytest.raises(srformer.TensorError, match="missing tensor 'lm_head.weight'"):
        Seq2SeqLM.from_pretrained(_copy_folder(DEMO, tmp_path / "no-head", tensors))


def test_shape_and_unexpected_tensor_errors(tmp_path: Path) -> None:
    source = DATA / "hf-tiny" / "t5_tiny"
    tensors = srformer.safetensors.load(source, copy=True)
    bad = dict(tensors)
    bad["decoder.block.1.layer.2.DenseReluDense.wi.weight"] = np.zeros((128, 63), dtype=np.float32)
    with pytest.raises(srformer.TensorError, match=r"'decoder.block.1.layer.2.DenseReluDense.wi.weight' has shape "
                                                  r"\[128, 63\] but shape \[128, 64\] is expected"):
        Seq2SeqLM.from_pretrained(_copy_folder(source, tmp_path / "shape", bad))
    extra = dict(tensors)
    extra["encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"] = np.zeros((32, 4), np.float32)
    with pytest.raises(srformer.TensorError, match="unexpected tensor 'encoder.block.1.layer.0.SelfAttention"):
        Seq2SeqLM.from_pretrained(_copy_folder(source, tmp_path / "extra", extra))
    # what HF itself ignores: the old T5 checkpoints' unused cross-attention bias table
    ignorable = dict(tensors)
    ignorable["decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"] = np.zeros((32, 4), np.float32)
    Seq2SeqLM.from_pretrained(_copy_folder(source, tmp_path / "ignorable", ignorable))
    with pytest.raises(srformer.FormatError, match="folder has none of model.safetensors"):
        Seq2SeqLM.from_pretrained(_copy_folder(source, tmp_path / "empty"))
    with pytest.raises(TypeError, match="holds a t5 model"):
        BartSeq2SeqLM.from_pretrained(source)


def test_raf_parameters_required_unless_fresh(tmp_path: Path) -> None:
    if not srformer_attention_available("t5", "srformer"):
        pytest.skip("srformer cross-attention is not implemented in srformer.torch.attention yet")
    source = DATA / "hf-tiny" / "t5_tiny"
    options = AttentionOptions(kind="srformer")
    with pytest.raises(srformer.ConfigError, match="SNN_kv.weight' is missing"):
        Seq2SeqLM.from_pretrained(source, attention=options)
    model = Seq2SeqLM.from_pretrained(source, attention=options, fresh_raf=True)
    assert "decoder.block.0.layer.1.EncDecAttention.SNN_kv.weight" in model.state_dict()
    # one layer's RAF parameters half present: incomplete
    tensors = srformer.safetensors.load(OFFICIAL / "t5", copy=True)
    del tensors["decoder.block.1.layer.1.EncDecAttention.leak"]
    with pytest.raises(srformer.ConfigError, match="incomplete"):
        Seq2SeqLM.from_pretrained(_copy_folder(OFFICIAL / "t5", tmp_path / "half", tensors), attention=options)


def test_from_config_is_trainable_and_round_trips(tmp_path: Path) -> None:
    """A fresh model's state_dict, saved as safetensors without tied copies, loads back."""
    config = load_model_config(DATA / "hf-tiny" / "bart_tiny")
    torch.manual_seed(0)
    model = Seq2SeqLM.from_config(config)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items() if k not in model.tied_aliases()}
    folder = _copy_folder(DATA / "hf-tiny" / "bart_tiny", tmp_path / "fresh", state)
    reloaded = Seq2SeqLM.from_pretrained(folder)
    for name, value in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[name], value), name

"""srformer.torch.attention: segmented and SRformer cross-attention in torch, paper and
causal semantics, against the SRformer authors' recorded module calls and goldens, against
the C++ library (through the binding, whole model), against literal per-query renderings
of both semantics (values and gradients), and under torch.autograd.gradcheck.

Tolerances: float32 comparisons with the authors' recordings use those of
tests/attention/srformer_module_calls_test.cpp (output before the projection 1e-5, after it
2e-5 absolute, RAF state 1e-5 * max(1, max|reference|)); logits (C++, goldens)
|Δ| <= 1e-5 * max(1, |reference|) element-wise; float64 comparisons 1e-10.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import srformer  # noqa: E402
import srformer.safetensors as safetensors  # noqa: E402
from srformer.torch.attention import (  # noqa: E402
    AttentionOptions,
    FullCrossAttention,
    SegmentedCrossAttention,
    SRformerCrossAttention,
    SRformerState,
    decoding_segment,
    make_cross_attention,
    paper_training_segment,
    t5_training_mask_segment,
)

OFFICIAL = Path(__file__).resolve().parents[1] / "data" / "srformer-official"
FAMILIES = ("t5", "bart")
# (kind, semantics, query mode) of every supported combination
COMBINATIONS = [
    (kind, semantics, mode)
    for kind in ("segmented", "srformer")
    for semantics in ("paper", "causal")
    for mode in (("incremental", "paper_training", "paper_eval") if semantics == "paper" else ("incremental",))
]


def logits_within(actual: np.ndarray, reference: np.ndarray, what: str) -> float:
    """Asserts |Δ| <= 1e-5 * max(1, |reference|) element-wise; returns max |Δ|."""
    difference = np.abs(actual.astype(np.float64) - reference.astype(np.float64))
    bound = 1e-5 * np.maximum(1.0, np.abs(reference.astype(np.float64)))
    worst = float(difference.max())
    ratio = float((difference / bound).max())
    assert (difference <= bound).all(), f"{what}: max |Δ| {worst:.3g}, worst ratio to the bound {ratio:.3g}"
    return worst


# --- construction, options, parameters -----------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_make_cross_attention_builds_each_kind_with_hf_names(family: str) -> None:
    expected = {"full": FullCrossAttention, "segmented": SegmentedCrossAttention, "srformer": SRformerCrossAttention}
    projections = ["q", "k", "v", "o"] if family == "t5" else ["q_proj", "k_proj", "v_proj", "out_proj"]
    for kind, cls in expected.items():
        module = make_cross_attention(family, 32, 4, 8, AttentionOptions(kind=kind, segment_size=5, gen_len=7))
        assert type(module) is cls
        names = set(module.state_dict())
        base = {f"{p}.weight" for p in projections} | (set() if family == "t5" else {f"{p}.bias" for p in projections})
        extra = {"SNN_kv.weight", "leak", "threshold"} if kind == "srformer" else set()
        assert names == base | extra
    module = make_cross_attention(family, 32, 4, 8, AttentionOptions(kind="srformer"))
    assert tuple(module.SNN_kv.weight.shape) == (8, 8) and module.SNN_kv.bias is None
    assert tuple(module.leak.shape) == (1,) and tuple(module.threshold.shape) == (1,)


def test_fresh_raf_parameters_follow_the_authors_and_torch_seed() -> None:
    d = 64
    torch.manual_seed(3)
    t5 = make_cross_attention("t5", 128, 2, d, AttentionOptions(kind="srformer"))
    torch.manual_seed(3)
    again = make_cross_attention("t5", 128, 2, d, AttentionOptions(kind="srformer"))
    assert torch.equal(t5.SNN_kv.weight, again.SNN_kv.weight)
    assert t5.leak.item() == pytest.approx(0.1) and t5.threshold.item() == pytest.approx(0.1)
    bound = 1 / d ** 0.5
    weight = t5.SNN_kv.weight.detach()
    assert float(weight.abs().max()) <= bound and float(weight.abs().max()) > 0.95 * bound
    assert abs(float(weight.std()) - bound / 3 ** 0.5) < 0.1 * bound  # uniform(±b): std b/√3
    bart = make_cross_attention("bart", 128, 2, d, AttentionOptions(kind="srformer"))
    assert bart.leak.item() == pytest.approx(0.5) and bart.threshold.item() == pytest.approx(0.1)
    assert abs(float(bart.SNN_kv.weight.detach().std()) - 0.02) < 0.002
    assert abs(float(bart.SNN_kv.weight.detach().mean())) < 0.002


def test_segment_maps_match_the_readme_worked_example() -> None:
    # N = 10, s = 4, G = 8: m = 3, j(t) = min(2, 3t div 8)
    assert [decoding_segment(t, 3, 8) for t in range(10)] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert [paper_training_segment(i, 20, 5) for i in range(20)] == [i // 4 for i in range(20)]
    # T5 training quirk: S = 300, s = 64: segment 4 is scored with the mask slice of segment 3
    assert [t5_training_mask_segment(j, 300, 64) for j in range(5)] == [0, 1, 2, 3, 3]


@pytest.mark.parametrize("kind", ["segmented", "srformer"])
def test_causal_semantics_refuses_the_paper_query_modes(kind: str) -> None:
    options = AttentionOptions(kind=kind, segment_size=3, gen_len=4, semantics="causal")
    module = make_cross_attention("t5", 16, 2, 8, options)
    hidden, encoder = torch.randn(1, 3, 16), torch.randn(1, 7, 16)
    mask = torch.ones(1, 7, dtype=torch.long)
    for mode in ("paper_training", "paper_eval"):
        with pytest.raises(ValueError, match="paper semantics"):
            module(hidden, encoder, mask, query_mode=mode)
    with pytest.raises(ValueError, match="query_mode"):
        module(hidden, encoder, mask, query_mode="training")


# --- module replay against the authors' recorded calls (README section 7) ------------------


class _Replay:
    """Largest differences of one model's replayed calls."""

    def __init__(self) -> None:
        self.maxima: Dict[str, float] = {}
        self.scales: Dict[str, float] = {}
        self.calls = 0

    def record(self, field: str, actual: "torch.Tensor", reference: "torch.Tensor") -> None:
        self.maxima[field] = max(self.maxima.get(field, 0.0), float((actual - reference).abs().max()))
        self.scales[field] = max(self.scales.get(field, 0.0), float(reference.abs().max()))


@pytest.mark.parametrize("family", FAMILIES)
def test_replays_every_recorded_call_of_the_authors_module(family: str) -> None:
    index = json.loads((OFFICIAL / family / "module_calls.json").read_text())
    weights = safetensors.load(OFFICIAL / family / "model.safetensors")
    recorded = safetensors.load(OFFICIAL / family / "module_calls.safetensors")
    heads, head_dim, d_model = index["n_heads"], index["head_dim"], index["d_model"]
    modes = {"tf_train": "paper_training", "tf_eval": "paper_eval", "tf_stepwise": "incremental",
             "greedy": "incremental"}
    replay = _Replay()
    for call in index["calls"]:
        variant = call["variant"]
        if variant == "full":
            continue
        replay.calls += 1

        def tensor(field: str) -> "torch.Tensor":
            return torch.from_numpy(np.array(recorded[call["tensors"][field]]))

        options = AttentionOptions(kind=variant, segment_size=call["split_size"], gen_len=call["gen_len_before"],
                                   semantics="paper")
        module = make_cross_attention(family, d_model, heads, head_dim, options)
        prefix = call["weights_prefix"]
        module.load_state_dict({name[len(prefix):]: torch.from_numpy(np.array(value))
                                for name, value in weights.items()
                                if name.startswith(prefix) and (variant == "srformer" or "SNN_kv" not in name
                                                                and not name.endswith(("leak", "threshold")))})
        captured: List["torch.Tensor"] = []
        projection = module.o if family == "t5" else module.out_proj
        projection.register_forward_hook(lambda _m, inputs, _o: captured.append(inputs[0]))
        hidden, encoder = tensor("hidden_states"), tensor("key_value_states")
        additive = tensor("mask" if family == "t5" else "attention_mask")
        mask = (additive[:, 0, 0, :] == 0).long()
        batch = hidden.shape[0]
        mode, t = modes[call["mode"]], call["t"]
        with torch.no_grad():
            if variant == "srformer":
                # From the recorded state (U, R, p before the call) ...
                state = SRformerState(tensor("snn_mem_before"), tensor("raf_out_before"),
                                      torch.full((batch,), call["old_idx_before"], dtype=torch.long))
                output = module(hidden, encoder, mask, t, mode, state=state)
                replay.record("attn_output", output, tensor("attn_output"))
                replay.record("attn_output_pre_proj", captured[-1], tensor("attn_output_pre_proj"))
                replay.record("snn_mem_after", state.membrane, tensor("snn_mem_after"))
                replay.record("raf_out_after", state.output, tensor("raf_out_after"))
                assert state.segment.tolist() == [call["old_idx_after"]] * batch, call["id"]
                # ... and without one: the steps of positions 0..t-1 are replayed.
                output = module(hidden, encoder, mask, t, mode)
                replay.record("attn_output_stateless", output, tensor("attn_output"))
            else:
                output = module(hidden, encoder, mask, t, mode)
                replay.record("attn_output", output, tensor("attn_output"))
                replay.record("attn_output_pre_proj", captured[-1], tensor("attn_output_pre_proj"))
    summary = ", ".join(f"{k} {v:.3g}" for k, v in replay.maxima.items())
    print(f"\n[{family}] {replay.calls} calls, max |Δ|: {summary}")
    assert replay.calls == (76 if family == "t5" else 80)
    assert replay.maxima["attn_output_pre_proj"] <= 1e-5
    assert replay.maxima["attn_output"] <= 2e-5
    assert replay.maxima["attn_output_stateless"] <= 2e-5
    for field in ("snn_mem_after", "raf_out_after"):
        assert replay.maxima[field] <= 1e-5 * max(1.0, replay.scales[field]), field


# --- literal per-query renderings of both semantics (float64) ------------------------------


def _literal_paper(module: SRformerCrossAttention | SegmentedCrossAttention, hidden: "torch.Tensor",
                   encoder: "torch.Tensor", mask: "torch.Tensor", mode: str) -> "torch.Tensor":
    """README "Attention semantics" / tests/data/srformer-official sections 3-4, query by query from
    first_position 0, with the authors' ops: the RAF applies SNN_kv to P at every step, the reset is
    θ·(Z > 0).float(), R = relu(Z), the complement is divided by torch.norm of the padded keys."""
    s, gen_len, t5 = module.options.segment_size, module.options.gen_len, module.family == "t5"
    srf = isinstance(module, SRformerCrossAttention)
    q = module.project_query(hidden)
    k, v = module.project_keys_values(encoder)
    batch, heads, length, d = k.shape
    m = -(-length // s)
    k = torch.nn.functional.pad(k, (0, 0, 0, m * s - length))
    v = torch.nn.functional.pad(v, (0, 0, 0, m * s - length))
    padding = torch.nn.functional.pad(mask == 0, (0, m * s - length), value=False)
    kv = torch.matmul(k.transpose(2, 3), v)
    ksvs = [torch.matmul(k[:, :, j * s:(j + 1) * s].transpose(2, 3), v[:, :, j * s:(j + 1) * s]) for j in range(m)]
    if not t5:
        kv = torch.clamp(kv, -2.0, 2.0)
        ksvs = [torch.clamp(a, -2.0, 2.0) for a in ksvs]
    membrane = torch.zeros(batch, heads, d, d, dtype=q.dtype)
    previous, recurrent = -1, None
    n = q.shape[2]
    outputs = []
    for i in range(n):
        if mode == "paper_training":
            j = min(m - 1, i * m // n)
            mask_segment = min(j, max(length, s) // s - 1)
            step = j != previous
        else:
            j = decoding_segment(i if mode == "incremental" else 0, m, gen_len)
            mask_segment = j
            step = (mode == "incremental" or i == 0) and (t5 or j != previous)
        if srf and step:
            x = module.SNN_kv(kv - ksvs[j])
            membrane = module.leak * membrane + x
            scaled = membrane / module.threshold - 1.0
            membrane = membrane - module.threshold * (scaled > 0).float().to(scaled.dtype)
            recurrent = torch.nn.functional.relu(scaled)
        if step and not (t5 and mode != "paper_training"):
            previous = j
        qi = q[:, :, i:i + 1]
        scores = torch.matmul(qi, k[:, :, j * s:(j + 1) * s].transpose(2, 3))
        if t5:
            slice_padding = padding[:, mask_segment * s:(mask_segment + 1) * s]
            scores = scores + torch.where(slice_padding, -1e9, 0.0)[:, None, None, :]
        out = torch.matmul(torch.softmax(scores, dim=-1), v[:, :, j * s:(j + 1) * s])
        if srf:
            out = out + torch.matmul(qi, recurrent) / torch.norm(k, dim=2).unsqueeze(2)
        outputs.append(out)
    return module.project_output(torch.cat(outputs, dim=2))


def _literal_causal(module: SRformerCrossAttention | SegmentedCrossAttention, hidden: "torch.Tensor",
                    encoder: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """README causal semantics, row by row and position by position (as the C++ decodes): the row's
    real tokens cut into segments, P_j = Σ_{k<j} K_kᵀV_k (BART clipped), one RAF step per crossed
    boundary, norms over segments 0..j, recurrent term skipped at segment 0."""
    s, gen_len, t5 = module.options.segment_size, module.options.gen_len, module.family == "t5"
    srf = isinstance(module, SRformerCrossAttention)
    q = module.project_query(hidden)
    keys, values = module.project_keys_values(encoder)
    rows = []
    for b in range(q.shape[0]):
        real = mask[b] != 0
        k, v = keys[b][:, real], values[b][:, real]  # [H, N, d]
        count = k.shape[1]
        m = -(-count // s)
        membrane = torch.zeros(k.shape[0], k.shape[2], k.shape[2], dtype=q.dtype)
        recurrent = torch.zeros_like(membrane)
        passed = 0
        outputs = []
        for t in range(q.shape[2]):
            qi = q[b][:, t:t + 1]
            if m == 0:
                outputs.append(torch.zeros_like(qi))
                continue
            j = decoding_segment(t, m, gen_len)
            while srf and passed < j:
                passed += 1
                prior = torch.matmul(k[:, :passed * s].transpose(1, 2), v[:, :passed * s])
                if not t5:
                    prior = torch.clamp(prior, -2.0, 2.0)
                membrane = module.leak * membrane + module.SNN_kv(prior)
                scaled = membrane / module.threshold - 1.0
                membrane = membrane - module.threshold * (scaled > 0).to(scaled.dtype)
                recurrent = torch.nn.functional.relu(scaled)
            kj, vj = k[:, j * s:(j + 1) * s], v[:, j * s:(j + 1) * s]
            out = torch.matmul(torch.softmax(torch.matmul(qi, kj.transpose(1, 2)), dim=-1), vj)
            if srf and j > 0:
                out = out + torch.matmul(qi, recurrent) / torch.norm(k[:, :(j + 1) * s], dim=1).unsqueeze(1)
            outputs.append(out)
        rows.append(torch.cat(outputs, dim=1))
    return module.project_output(torch.stack(rows))


def _random_module(family: str, kind: str, semantics: str, s: int, gen_len: int, seed: int,
                   heads: int = 2, head_dim: int = 4) -> SRformerCrossAttention | SegmentedCrossAttention:
    """A float64 module whose RAF fires on some entries and not on others."""
    torch.manual_seed(seed)
    module = make_cross_attention(family, heads * head_dim, heads, head_dim,
                                  AttentionOptions(kind=kind, segment_size=s, gen_len=gen_len, semantics=semantics))
    module = module.double()
    if isinstance(module, SRformerCrossAttention):
        with torch.no_grad():
            module.SNN_kv.weight.normal_(0.0, 0.5)
            module.leak.fill_(0.6)
            module.threshold.fill_(0.4)
    return module  # type: ignore[return-value]


def _inputs(batch: int, length: int, steps: int, d_model: int, seed: int
            ) -> Tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(batch, steps, d_model, generator=generator, dtype=torch.float64)
    encoder = torch.randn(batch, length, d_model, generator=generator, dtype=torch.float64)
    mask = torch.ones(batch, length, dtype=torch.long)
    if batch > 1:
        mask[1, length - 4:] = 0  # right padding
    if batch > 2:
        mask[2, :3] = 0  # left and middle padding (causal gathers the real tokens)
        mask[2, 8:10] = 0
    return hidden, encoder, mask


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind,semantics,mode", COMBINATIONS)
def test_values_and_gradients_equal_a_literal_per_query_rendering(family: str, kind: str, semantics: str,
                                                                  mode: str) -> None:
    module = _random_module(family, kind, semantics, s=4, gen_len=6, seed=5)
    hidden, encoder, mask = _inputs(3, 15, 9, module.d_model, seed=6)
    if semantics == "paper" and family == "t5":
        mask[2, 12:] = 0  # a last segment whose real rows are all padding (mean of V over the padding)
    hidden.requires_grad_()
    encoder.requires_grad_()
    ours = module(hidden, encoder, mask, query_mode=mode)
    literal = (_literal_paper(module, hidden, encoder, mask, mode) if semantics == "paper"
               else _literal_causal(module, hidden, encoder, mask))
    assert torch.allclose(ours, literal, rtol=0, atol=1e-10), float((ours - literal).abs().max())
    weights = torch.randn(ours.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    wrt = [hidden, encoder] + [p for p in module.parameters()]
    ours_grads = torch.autograd.grad((ours * weights).sum(), wrt, allow_unused=True)
    literal_grads = torch.autograd.grad((literal * weights).sum(), wrt, allow_unused=True)
    for a, b in zip(ours_grads, literal_grads):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, rtol=0, atol=1e-9 * max(1.0, float(b.abs().max()))), float((a - b).abs().max())
    if kind == "srformer":  # W, leak and threshold all receive gradient
        assert all(g is not None and float(g.abs().max()) > 0 for g in ours_grads[-3:])


# --- state, positions, padding -------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("semantics", ["paper", "causal"])
def test_one_call_equals_stepping_with_or_without_a_state(family: str, semantics: str) -> None:
    module = _random_module(family, "srformer", semantics, s=3, gen_len=5, seed=8)
    assert isinstance(module, SRformerCrossAttention)
    hidden, encoder, mask = _inputs(3 if semantics == "causal" else 2, 14, 9, module.d_model, seed=9)
    with torch.no_grad():
        whole_state = module.initial_state(hidden.shape[0], dtype=torch.float64)
        whole = module(hidden, encoder, mask, 0, "incremental", state=whole_state)
        state = module.initial_state(hidden.shape[0], dtype=torch.float64)
        for t in range(hidden.shape[1]):
            step = module(hidden[:, t:t + 1], encoder, mask, t, "incremental", state=state)
            assert torch.allclose(step, whole[:, t:t + 1], rtol=0, atol=1e-12)
            stateless = module(hidden[:, t:t + 1], encoder, mask, t, "incremental")
            assert torch.allclose(stateless, whole[:, t:t + 1], rtol=0, atol=1e-12)
        # a block that starts in the middle, from the state after position 3
        state = module.initial_state(hidden.shape[0], dtype=torch.float64)
        module(hidden[:, :4], encoder, mask, 0, "incremental", state=state)
        rest = module(hidden[:, 4:], encoder, mask, 4, "incremental", state=state)
    assert torch.allclose(rest, whole[:, 4:], rtol=0, atol=1e-12)
    for a, b in ((state.membrane, whole_state.membrane), (state.output, whole_state.output)):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)
    assert torch.equal(state.segment, whole_state.segment)
    if semantics == "causal":
        # positions may not go back without restarting at 0
        with pytest.raises(ValueError, match="must not go back"):
            module(hidden[:, :1], encoder, mask, 1, "incremental", state=state)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", ["segmented", "srformer"])
def test_causal_padded_row_equals_the_row_alone(family: str, kind: str) -> None:
    module = _random_module(family, kind, "causal", s=4, gen_len=6, seed=10)
    hidden, encoder, mask = _inputs(3, 15, 9, module.d_model, seed=11)
    with torch.no_grad():
        batched = module(hidden, encoder, mask)
        for b in range(3):
            real = mask[b] != 0
            alone = module(hidden[b:b + 1], encoder[b:b + 1, real], torch.ones(1, int(real.sum()), dtype=torch.long))
            assert torch.allclose(batched[b:b + 1], alone, rtol=0, atol=1e-12), b
        # padding values never matter
        changed = encoder.clone()
        changed[mask == 0] = 1e3
        assert torch.allclose(module(hidden, changed, mask), batched, rtol=0, atol=1e-12)


# --- gradcheck -------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind,semantics,mode", COMBINATIONS)
def test_gradcheck(family: str, kind: str, semantics: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """B = 2, S = 7 (row 1 padded to 5 real tokens), T = 5, 2 heads, d = 4, s = 3, G = 4, float64,
    w.r.t. hidden, encoder_hidden and (SRformer) SNN_kv.weight, leak and threshold.

    The RAF's Heaviside step (and relu's kink) make the function discontinuous where some
    Z = U/θ − 1 is 0, and BART's clamp has kinks at ±2: the inputs are chosen away from them
    (every Z and every clamped entry recorded here is at least 1e-3 from its boundary, far more
    than gradcheck's eps = 1e-6 can move it), and the RAF fires on some entries but not all."""
    from torch.nn.utils.stateless import functional_call

    module = _random_module(family, kind, semantics, s=3, gen_len=4, seed=1)
    generator = torch.Generator().manual_seed(2)
    hidden = torch.randn(2, 5, module.d_model, generator=generator, dtype=torch.float64, requires_grad=True)
    encoder = torch.randn(2, 7, module.d_model, generator=generator, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    names = ["SNN_kv.weight", "leak", "threshold"] if kind == "srformer" else []
    parameters = [module.get_parameter(name).detach().clone().requires_grad_() for name in names]

    scaled_values: List["torch.Tensor"] = []
    clamped_values: List["torch.Tensor"] = []
    if isinstance(module, SRformerCrossAttention):
        step = module.raf_step

        def recording_step(current: "torch.Tensor", membrane: "torch.Tensor") -> Tuple["torch.Tensor", "torch.Tensor"]:
            scaled_values.append(((module.leak * membrane + current) / module.threshold - 1.0).detach())
            return step(current, membrane)

        monkeypatch.setattr(module, "raf_step", recording_step)
        clamp = torch.clamp

        def recording_clamp(x: "torch.Tensor", *args: float, **kwargs: float) -> "torch.Tensor":
            clamped_values.append(x.detach())
            return clamp(x, *args, **kwargs)

        monkeypatch.setattr(torch, "clamp", recording_clamp)

    def forward(hidden: "torch.Tensor", encoder: "torch.Tensor", *values: "torch.Tensor") -> "torch.Tensor":
        return functional_call(module, dict(zip(names, values)), (hidden, encoder, mask), {"query_mode": mode})

    forward(hidden, encoder, *parameters)
    if kind == "srformer":
        scaled = torch.cat([z.flatten() for z in scaled_values])
        assert float(scaled.abs().min()) > 1e-3
        assert 0.05 < float((scaled > 0).double().mean()) < 0.95
        if family == "bart":
            clamped = torch.cat([x.flatten() for x in clamped_values])
            assert float((clamped.abs() - 2.0).abs().min()) > 1e-3
    assert torch.autograd.gradcheck(forward, (hidden, encoder, *parameters), eps=1e-6, atol=1e-5, rtol=1e-4)


# --- whole model: the C++ library (binding) and the authors' goldens -------------------------


def _torch_models() -> object:
    models = pytest.importorskip("srformer.torch.models")
    if not hasattr(models, "Seq2SeqLM"):
        pytest.skip("srformer.torch.models.Seq2SeqLM is not there yet")
    return models.Seq2SeqLM


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", ["segmented", "srformer"])
@pytest.mark.parametrize("semantics,s,gen_len",
                         [("causal", 16, 8), ("causal", 7, 5), ("paper", 16, 8), ("paper", 64, 16)])
def test_whole_model_logits_equal_the_cpp_library(family: str, kind: str, semantics: str, s: int, gen_len: int) -> None:
    Seq2SeqLM = _torch_models()
    folder = OFFICIAL / family
    cpp = srformer.Model.from_folder(folder, attention=kind, segment=s, mode=semantics, gen_len=gen_len)
    model = Seq2SeqLM.from_pretrained(folder, attention=AttentionOptions(kind=kind, segment_size=s, gen_len=gen_len,
                                                                         semantics=semantics))
    rng = np.random.default_rng(1)
    batch, length, steps = 3, 150, 20
    ids = rng.integers(3, 999, size=(batch, length))
    mask = np.ones((batch, length), dtype=np.int64)
    mask[1, 100:] = 0
    if semantics == "causal":
        mask[2, :20] = 0  # padding on the left and in the middle: the C++ gathers the real tokens
        mask[2, 60:75] = 0
    else:
        mask[2, 37:] = 0
    ids[mask == 0] = cpp.config["pad_token_id"]
    decoder = rng.integers(3, 999, size=(batch, steps))
    decoder[:, 0] = cpp.config["decoder_start_token_id"]
    encoded = cpp.encode(ids, mask)
    with torch.no_grad():
        encoder_hidden = model.encode(torch.from_numpy(ids), torch.from_numpy(mask))
        for mode in ("incremental", "paper_training", "paper_eval") if semantics == "paper" else ("incremental",):
            ours = model.decode(torch.from_numpy(decoder), encoder_hidden, torch.from_numpy(mask), mode).numpy()
            worst = logits_within(ours, cpp.logits(encoded, decoder, mode), f"{family} {kind} {semantics} {mode}")
            print(f"\n{family} {kind} {semantics} s={s} G={gen_len} {mode}: max |Δ| {worst:.3g}", end="")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", ["segmented", "srformer"])
def test_whole_model_logits_equal_the_authors_goldens(family: str, kind: str) -> None:
    """As tests/models/srformer_official_golden_test.cpp: G = 16, the authors' s, paper semantics;
    tf_eval = paper_eval (t = 0), tf_train = paper_training, tf_stepwise = incremental."""
    Seq2SeqLM = _torch_models()
    options = AttentionOptions(kind=kind, segment_size=64 if family == "t5" else 16, gen_len=16, semantics="paper")
    model = Seq2SeqLM.from_pretrained(OFFICIAL / family, attention=options)
    golden = safetensors.load(OFFICIAL / family / kind / "golden.safetensors")
    for subset in ("batch", "single"):
        def get(name: str) -> "torch.Tensor":
            return torch.from_numpy(np.array(golden[f"{subset}.{name}"]))

        with torch.no_grad():
            encoder_hidden = model.encode(get("input_ids"), get("attention_mask"))
            for key, mode in (("tf_eval", "paper_eval"), ("tf_train", "paper_training"),
                              ("tf_stepwise", "incremental")):
                ours = model.decode(get("decoder_input_ids"), encoder_hidden, get("attention_mask"), mode).numpy()
                worst = logits_within(ours, get(f"logits_{key}").numpy(), f"{family} {kind} {subset} {key}")
                print(f"\n{family} {kind} {subset} {key}: max |Δ| {worst:.3g}", end="")

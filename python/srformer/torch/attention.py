"""Decoder cross-attention modules with HuggingFace's parameter names.

One module per decoder layer, chosen by :class:`AttentionOptions`:

* ``full``: HF's cross-attention;
* ``segmented``: each decoder position attends to its encoder segment only;
* ``srformer``: segmented plus the recurrent term through RAF neurons
  (trainable ``SNN_kv.weight``, ``leak``, ``threshold``).

Segmented and SRformer come in ``paper`` semantics (the authors' code) and
``causal`` semantics (ours), exactly as the C++ library defines them (README
"Attention semantics"; include/srformer/attention/*.hpp).

Parameter names (so that ``state_dict()`` equals an HF checkpoint's):
T5 ``q``, ``k``, ``v``, ``o`` (no bias, no query scaling); BART ``q_proj``,
``k_proj``, ``v_proj``, ``out_proj`` (with bias; queries scaled by head_dim^-0.5);
SRformer adds ``SNN_kv`` (Linear head_dim → head_dim, no bias), ``leak`` and
``threshold`` (shape [1]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn

KINDS = ("full", "segmented", "srformer")
SEMANTICS = ("paper", "causal")
QUERY_MODES = ("incremental", "paper_training", "paper_eval")


@dataclass
class AttentionOptions:
    """The C++ ``attention::CrossAttentionOptions``: kind, segment size s, gen_len G, semantics."""

    kind: str = "full"
    segment_size: int = 64
    gen_len: int = 128
    semantics: str = "paper"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown cross-attention kind {self.kind!r} (expected full, segmented or srformer)")
        if self.semantics not in SEMANTICS:
            raise ValueError(f"unknown semantics {self.semantics!r} (expected paper or causal)")
        if not 1 <= self.segment_size <= 65536:
            raise ValueError(f"segment size must be in [1, 65536], got {self.segment_size}")
        if self.gen_len < 1:
            raise ValueError(f"gen_len (G) must be at least 1, got {self.gen_len}")

    @staticmethod
    def defaults_for(family: str) -> "AttentionOptions":
        """The authors' settings: s = 64 (T5) or 16 (BART), G = 128, paper semantics, kind full."""
        return AttentionOptions(kind="full", segment_size=64 if family == "t5" else 16, gen_len=128, semantics="paper")


class CrossAttention(nn.Module):
    """Interface of every cross-attention module.

    ``forward(hidden, encoder_hidden, encoder_mask, first_position=0, query_mode="incremental")``:
    hidden [B, T, d_model] (decoder positions first_position .. first_position+T-1),
    encoder_hidden [B, S, d_model], encoder_mask [B, S] (1 = real token) → [B, T, d_model].
    ``query_mode`` as the C++ ``attention::QueryMode``: "incremental" (as if decoded one
    position at a time; generation and training), "paper_training" / "paper_eval" (the
    authors' forwards; paper semantics only).
    """

    def __init__(self, family: str, d_model: int, num_heads: int, head_dim: int, options: AttentionOptions) -> None:
        super().__init__()
        if family not in ("t5", "bart"):
            raise ValueError(f"family must be 't5' or 'bart', got {family!r}")
        self.family = family
        self.d_model = d_model
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.options = options
        inner = num_heads * head_dim
        if family == "t5":
            self.q = nn.Linear(d_model, inner, bias=False)
            self.k = nn.Linear(d_model, inner, bias=False)
            self.v = nn.Linear(d_model, inner, bias=False)
            self.o = nn.Linear(inner, d_model, bias=False)
        else:
            self.q_proj = nn.Linear(d_model, inner, bias=True)
            self.k_proj = nn.Linear(d_model, inner, bias=True)
            self.v_proj = nn.Linear(d_model, inner, bias=True)
            self.out_proj = nn.Linear(inner, d_model, bias=True)

    # --- projections, shared by every kind ---------------------------------------------
    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)  # [B, H, L, d]

    def project_query(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.family == "t5":
            return self._heads(self.q(hidden))
        return self._heads(self.q_proj(hidden) * (self.head_dim ** -0.5))

    def project_keys_values(self, encoder_hidden: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.family == "t5":
            return self._heads(self.k(encoder_hidden)), self._heads(self.v(encoder_hidden))
        return self._heads(self.k_proj(encoder_hidden)), self._heads(self.v_proj(encoder_hidden))

    def project_output(self, context: torch.Tensor) -> torch.Tensor:
        batch, _, length, _ = context.shape
        merged = context.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        return self.o(merged) if self.family == "t5" else self.out_proj(merged)

    def forward(
        self,
        hidden: torch.Tensor,
        encoder_hidden: torch.Tensor,
        encoder_mask: torch.Tensor,
        first_position: int = 0,
        query_mode: str = "incremental",
    ) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class FullCrossAttention(CrossAttention):
    """HF's cross-attention: every decoder position attends to every real encoder token."""

    def forward(
        self,
        hidden: torch.Tensor,
        encoder_hidden: torch.Tensor,
        encoder_mask: torch.Tensor,
        first_position: int = 0,
        query_mode: str = "incremental",
    ) -> torch.Tensor:
        if query_mode != "incremental":
            raise ValueError(f"query_mode {query_mode!r} is for SRformer paper semantics only")
        q = self.project_query(hidden)
        k, v = self.project_keys_values(encoder_hidden)
        scores = torch.matmul(q, k.transpose(-1, -2))
        blocked = (encoder_mask == 0)[:, None, None, :]
        scores = scores.masked_fill(blocked, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores.float(), dim=-1).to(q.dtype)
        return self.project_output(torch.matmul(weights, v))


# --- segmented and SRformer ----------------------------------------------------------------

T5_MASK_BIAS = -1e9
"""Additive score bias on padding in T5's (paper) segment softmax, as HF's float32 T5 builds it."""

BART_CLAMP = 2.0
"""BART's clamp of KᵀV (paper: KV and each K_jᵀV_j; causal: the prefix sums P_j)."""


def decoding_segment(position: int, num_segments: int, gen_len: int) -> int:
    """j(t) = min(m − 1, (t·m) div G) (C++ ``decoding_segment``; t is clamped to G first)."""
    t = min(position, gen_len)
    return min(num_segments - 1, (t * num_segments) // gen_len)


def paper_training_segment(query: int, num_queries: int, num_segments: int) -> int:
    """The authors' training forward: query i of q gets min(m − 1, (i·m) div q)."""
    return min(num_segments - 1, (query * num_segments) // num_queries)


def t5_training_mask_segment(segment: int, padded_length: int, segment_size: int) -> int:
    """T5 training-mode quirk: the mask slice of segment j is min(j, max(S, s) div s − 1)."""
    return min(segment, max(padded_length, segment_size) // segment_size - 1)


def _softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, in float32 for half types (as the float32 C++ library), else as is."""
    if scores.dtype in (torch.float16, torch.bfloat16):
        return torch.softmax(scores.float(), dim=-1).to(scores.dtype)
    return torch.softmax(scores, dim=-1)


def _runs(values: List[Tuple[int, ...]]) -> List[Tuple[Tuple[int, ...], int, int]]:
    """Maximal runs of equal consecutive entries: (value, begin, end)."""
    runs: List[Tuple[Tuple[int, ...], int, int]] = []
    begin = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[begin]:
            runs.append((values[begin], begin, i))
            begin = i
    return runs


def _divide_by_norms(product: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
    """product ⊘ norms along the last axis; a column whose norm is 0 gives 0 (C++: adds nothing), not NaN.

    product [B, H, n, d], norms [B, H, d].
    """
    positive = norms > 0
    safe = torch.where(positive, norms, torch.ones_like(norms))
    return torch.where(positive[:, :, None, :], product / safe[:, :, None, :], torch.zeros_like(product))


@dataclass
class _EncoderLayout:
    """The encoder side cut into segments of s rows.

    ``keys``/``values`` [B, H, L·s, d] with L segments: paper K̃/Ṽ (padded batch, zero rows
    appended up to m·s); causal the row's real tokens, compacted to the front, zero beyond them
    (L = the largest m of the batch). ``valid`` [B, L·s]: causal only, which slots hold a real token.
    """

    keys: torch.Tensor
    values: torch.Tensor
    num_slots: int
    paper: bool
    # keys / values split into their segments of s rows (one autograd node for all of them)
    key_segments: Tuple[torch.Tensor, ...] = ()
    value_segments: Tuple[torch.Tensor, ...] = ()
    # paper
    padded_length: int = 0
    num_segments: int = 0
    padding: Optional[torch.Tensor] = None  # [B, m·s] True at padding (never at the appended zero rows)
    # causal
    lengths: Optional[torch.Tensor] = None  # [B] real tokens per row
    row_segments: Optional[torch.Tensor] = None  # [B] m per row
    valid: Optional[torch.Tensor] = None  # [B, L·s]


@dataclass
class SRformerState:
    """Per-row RAF state of one SRformer layer (the C++ ``SrformerCrossAttention::State``).

    ``membrane`` U and ``output`` R: [B, H, d, d]. ``segment`` [B] (long): paper, the authors'
    previous segment index p (−1 = none; the same for every row); causal, the last segment
    whose boundary the RAF has stepped (0 = none yet).
    """

    membrane: torch.Tensor
    output: torch.Tensor
    segment: torch.Tensor


class SegmentedCrossAttention(CrossAttention):
    """Segmented cross-attention: a query at decoder position t sees only its encoder segment.

    Per head: o = softmax(q K_jᵀ + b) V_j, j = j(t) (README "Attention semantics"; C++
    ``SegmentedCrossAttention``). ``paper`` semantics: segments cut from the padded batch
    (m = ceil(S/s) for every row), the last one zero-padded to s rows (zero rows score 0 and
    take softmax mass); T5 adds −1e9 on padding inside the segment (and in
    ``paper_training`` uses the authors' mask-slice quirk), BART ignores the mask.
    ``causal`` semantics: segments cut from each row's real tokens only.

    Query modes: ``incremental`` (position first_position + i, segment j(t)),
    ``paper_training`` (query i of q: min(m−1, i·m div q)), ``paper_eval`` (every query at
    j(first_position)); the last two with paper semantics only.
    """

    def _check_call(self, hidden: torch.Tensor, encoder_hidden: torch.Tensor, first_position: int,
                    query_mode: str) -> None:
        if query_mode not in QUERY_MODES:
            raise ValueError(f"unknown query_mode {query_mode!r} (expected one of {', '.join(QUERY_MODES)})")
        if self.options.semantics == "causal" and query_mode != "incremental":
            raise ValueError(
                f"{self.options.kind} cross-attention: the paper query modes (training / eval-at-t forward) exist "
                "only with paper semantics; causal semantics needs query_mode='incremental'"
            )
        if first_position < 0:
            raise ValueError(f"negative decoder position {first_position}")
        if hidden.dim() != 3 or encoder_hidden.dim() != 3 or hidden.shape[0] != encoder_hidden.shape[0]:
            raise ValueError(
                f"hidden {tuple(hidden.shape)} and encoder_hidden {tuple(encoder_hidden.shape)} must be "
                "[B, T, d_model] and [B, S, d_model]"
            )
        if encoder_hidden.shape[1] < 1:
            raise ValueError("empty encoder sequence")

    # --- the encoder side ------------------------------------------------------------------
    def _layout(self, keys: torch.Tensor, values: torch.Tensor, encoder_mask: Optional[torch.Tensor]) -> _EncoderLayout:
        batch, _, length, _ = keys.shape
        s = self.options.segment_size
        if encoder_mask is None:
            real = torch.ones(batch, length, dtype=torch.bool, device=keys.device)
        else:
            if tuple(encoder_mask.shape) != (batch, length):
                raise ValueError(f"encoder_mask {tuple(encoder_mask.shape)} must be [B, S] = [{batch}, {length}]")
            real = encoder_mask.to(keys.device) != 0
        if self.options.semantics == "paper":
            m = -(-length // s)
            slots = m * s
            pad = slots - length
            if pad:
                keys = nn.functional.pad(keys, (0, 0, 0, pad))
                values = nn.functional.pad(values, (0, 0, 0, pad))
            padding = nn.functional.pad(~real, (0, pad), value=False)
            return _EncoderLayout(keys, values, slots, True, keys.split(s, dim=2), values.split(s, dim=2),
                                  padded_length=length, num_segments=m, padding=padding)
        # causal: the real tokens of each row, in order, at the front
        lengths = real.sum(dim=1)
        row_segments = torch.div(lengths + (s - 1), s, rounding_mode="floor")
        most = int(row_segments.max().item())
        slots = max(most, 1) * s
        prefix = bool((real == (torch.arange(length, device=real.device)[None, :] < lengths[:, None])).all())
        if not prefix:  # padding in the middle or on the left: gather the real tokens
            order = torch.sort((~real).to(torch.int8), dim=1, stable=True).indices
            index = order[:, None, :, None].expand_as(keys)
            keys = keys.gather(2, index)
            values = values.gather(2, index)
        valid_now = torch.arange(length, device=real.device)[None, :] < lengths[:, None]
        zero = torch.zeros((), dtype=keys.dtype, device=keys.device)
        keys = torch.where(valid_now[:, None, :, None], keys, zero)
        values = torch.where(valid_now[:, None, :, None], values, zero)
        if slots > length:
            keys = nn.functional.pad(keys, (0, 0, 0, slots - length))
            values = nn.functional.pad(values, (0, 0, 0, slots - length))
        elif slots < length:
            keys = keys[:, :, :slots]
            values = values[:, :, :slots]
        valid = torch.arange(slots, device=real.device)[None, :] < lengths[:, None]
        return _EncoderLayout(keys, values, slots, False, keys.split(s, dim=2), values.split(s, dim=2),
                              lengths=lengths, row_segments=row_segments, valid=valid)

    # --- which segment each query uses ------------------------------------------------------
    def _paper_segments(self, layout: _EncoderLayout, n: int, first_position: int,
                        query_mode: str) -> List[Tuple[int, int]]:
        """(segment, mask segment or −1) of each query, paper semantics (shared by all rows)."""
        m, gen_len = layout.num_segments, self.options.gen_len
        t5 = self.family == "t5"
        result: List[Tuple[int, int]] = []
        for i in range(n):
            if query_mode == "incremental":
                j = decoding_segment(first_position + i, m, gen_len)
                mask_segment = j
            elif query_mode == "paper_eval":
                j = decoding_segment(first_position, m, gen_len)
                mask_segment = j
            else:
                j = paper_training_segment(i, n, m)
                mask_segment = t5_training_mask_segment(j, layout.padded_length, self.options.segment_size)
            result.append((j, mask_segment if t5 else -1))
        return result

    def _causal_segments(self, layout: _EncoderLayout, n: int, first_position: int) -> torch.Tensor:
        """[B, n] segment of each query (−1 for a row without real tokens), causal semantics."""
        assert layout.row_segments is not None
        gen_len = self.options.gen_len
        positions = torch.arange(first_position, first_position + n, device=layout.keys.device)
        t = positions.clamp(max=gen_len)[None, :]
        m = layout.row_segments[:, None]
        j = torch.minimum(m - 1, torch.div(t * m, gen_len, rounding_mode="floor"))
        return torch.where(m > 0, j, torch.full_like(j, -1))

    @staticmethod
    def _causal_ranges(segments: torch.Tensor) -> Dict[int, Tuple[int, int]]:
        """segment → the smallest query range [begin, end) that holds every query of any row mapped to it."""
        ranges: Dict[int, Tuple[int, int]] = {}
        for row in segments.tolist():
            for i, j in enumerate(row):
                if j < 0:
                    continue
                begin, end = ranges.get(j, (i, i + 1))
                ranges[j] = (min(begin, i), max(end, i + 1))
        return dict(sorted(ranges.items()))

    # --- the segment term -------------------------------------------------------------------
    def _attend_segment(self, q: torch.Tensor, layout: _EncoderLayout, segment: int, mask_segment: int) -> torch.Tensor:
        """softmax(q K_jᵀ + b) V_j for queries q [B, H, n, d] against segment j: [B, H, n, d]."""
        s = self.options.segment_size
        keys, values = layout.key_segments[segment], layout.value_segments[segment]
        scores = torch.matmul(q, keys.transpose(-1, -2))
        if layout.paper:
            if mask_segment >= 0:  # T5: the mask slice (zero rows: bias 0)
                assert layout.padding is not None
                padding = layout.padding[:, mask_segment * s:(mask_segment + 1) * s]
                bias = torch.where(padding, torch.full((), T5_MASK_BIAS, dtype=scores.dtype, device=scores.device),
                                   torch.zeros((), dtype=scores.dtype, device=scores.device))
                scores = scores + bias[:, None, None, :]
        else:
            assert layout.valid is not None
            valid = layout.valid[:, segment * s:(segment + 1) * s]
            scores = scores.masked_fill(~valid[:, None, None, :], torch.finfo(scores.dtype).min)
        return torch.matmul(_softmax(scores), values)

    def _segment_term(self, q: torch.Tensor, layout: _EncoderLayout, first_position: int, query_mode: str
                      ) -> Tuple[torch.Tensor, Any]:
        """The segmented term for all queries [B, H, n, d], and the per-query segments (paper: a list of
        (segment, mask segment); causal: a [B, n] tensor)."""
        n = q.shape[2]
        if n == 0:
            empty = torch.zeros(q.shape[0], 0, dtype=torch.long, device=q.device)
            return torch.zeros_like(q), ([] if layout.paper else empty)
        if layout.paper:  # the queries of a segment are consecutive and the same in every row
            plan = self._paper_segments(layout, n, first_position, query_mode)
            runs = _runs(plan)  # type: ignore[arg-type]
            parts = q.split([end - begin for _, begin, end in runs], dim=2)
            pieces = [self._attend_segment(part, layout, segment, mask_segment)
                      for part, ((segment, mask_segment), _, _) in zip(parts, runs)]
            return torch.cat(pieces, dim=2), plan
        context = torch.zeros_like(q)
        segments = self._causal_segments(layout, n, first_position)
        for segment, (begin, end) in self._causal_ranges(segments).items():
            part = self._attend_segment(q[:, :, begin:end], layout, segment, -1)
            mine = (segments[:, begin:end] == segment)[:, None, :, None]
            context[:, :, begin:end] += torch.where(mine, part, torch.zeros_like(part))
        return context, segments

    def forward(
        self,
        hidden: torch.Tensor,
        encoder_hidden: torch.Tensor,
        encoder_mask: torch.Tensor,
        first_position: int = 0,
        query_mode: str = "incremental",
    ) -> torch.Tensor:
        """[B, T, d_model]: the segmented term of positions first_position.. (see the class docstring)."""
        self._check_call(hidden, encoder_hidden, first_position, query_mode)
        q = self.project_query(hidden)
        keys, values = self.project_keys_values(encoder_hidden)
        layout = self._layout(keys, values, encoder_mask)
        context, _ = self._segment_term(q, layout, first_position, query_mode)
        return self.project_output(context)


class SRformerCrossAttention(SegmentedCrossAttention):
    """SRformer cross-attention: the segmented term plus a recurrent term carried by a RAF neuron.

    Per head, for a query q at segment j: o = softmax(q K_jᵀ + b) V_j + (q R) ⊘ n, where R is
    the output of the RAF neuron (weight ``SNN_kv.weight`` W shared by all heads, ``leak`` λ,
    ``threshold`` θ; one d×d membrane U per row and head). One step on input P, with the
    authors' ops (so autograd sees what it sees in their code)::

        U = λ·U + P Wᵀ;  Z = U/θ − 1;  U = U − θ·[Z > 0];  R = relu(Z)

    The Heaviside [Z > 0] is a comparison turned into a float: no gradient flows through it
    (the reset passes the gradient to U unchanged and gives θ −[Z > 0]); R's gradient is
    relu's, [Z > 0]. No surrogate (the authors define ``LinearSpike`` but never use it).

    ``paper`` semantics (the authors' code): P_j = KV − K_jᵀV_j (BART: clip(KV, ±2) −
    clip(K_jᵀV_j, ±2)) with KV over all S padded positions (future segments included), n the
    column norms of K over all S; T5 steps the RAF at every incremental position, BART when
    j changes; ``paper_training`` steps once per distinct segment, in order.
    ``causal`` semantics (ours): P_j = Σ_{k<j} K_kᵀV_k over real tokens (BART: clipped to ±2),
    n over segments 0..j, one RAF step per crossed segment boundary, term skipped at segment 0.

    The RAF state at a position depends on the encoder and the position only, so without a
    ``state`` a call starting at first_position > 0 replays the steps that positions
    0..first_position−1 would have made (exact, O(steps) element-wise work); with
    ``state`` (an :class:`SRformerState`, e.g. from :meth:`initial_state`) it starts from that
    state and leaves the state after the call in it (generation, the authors' recorded calls).
    ``first_position == 0`` always starts afresh (paper: U = 0, p = −1; causal: U = R = 0, p = 0).
    """

    def __init__(self, family: str, d_model: int, num_heads: int, head_dim: int, options: AttentionOptions,
                 init_std: float = 0.02) -> None:
        super().__init__(family, d_model, num_heads, head_dim, options)
        self.SNN_kv = nn.Linear(head_dim, head_dim, bias=False)
        self.leak = nn.Parameter(torch.ones(1))
        self.threshold = nn.Parameter(torch.ones(1))
        self.reset_raf_parameters(init_std)

    def reset_raf_parameters(self, init_std: float = 0.02) -> None:
        """The authors' fresh initialisation (C++ ``fresh_raf_parameters``), from torch's RNG.

        T5: W ~ U(−1/√d, 1/√d) (PyTorch's default Linear init, which T5's _init_weights leaves
        alone; here nn.Linear's own init, so no extra draw), leak 0.1, threshold 0.1.
        BART: W ~ N(0, init_std) (HF's _init_weights), leak 0.5, threshold 0.1.
        """
        with torch.no_grad():
            if self.family == "bart":
                self.SNN_kv.weight.normal_(mean=0.0, std=init_std)
            self.leak.fill_(0.1 if self.family == "t5" else 0.5)
            self.threshold.fill_(0.1)

    def initial_state(self, batch_size: int, device: Optional[torch.device] = None,
                      dtype: Optional[torch.dtype] = None) -> SRformerState:
        """A fresh state for ``batch_size`` rows (C++ ``initial_state``)."""
        device = device or self.SNN_kv.weight.device
        dtype = dtype or self.SNN_kv.weight.dtype
        shape = (batch_size, self.num_heads, self.head_dim, self.head_dim)
        first = -1 if self.options.semantics == "paper" else 0
        return SRformerState(
            membrane=torch.zeros(shape, device=device, dtype=dtype),
            output=torch.zeros(shape, device=device, dtype=dtype),
            segment=torch.full((batch_size,), first, dtype=torch.long, device=device),
        )

    def raf_step(self, current: torch.Tensor, membrane: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """One RAF step from the input current Xin = P Wᵀ: returns (R, U) after the step (the authors' ops)."""
        membrane = self.leak * membrane + current
        scaled = membrane / self.threshold - 1.0
        reset = self.threshold * (scaled > 0).to(scaled.dtype)
        membrane = membrane - reset
        return nn.functional.relu(scaled), membrane

    def forward(  # type: ignore[override]
        self,
        hidden: torch.Tensor,
        encoder_hidden: torch.Tensor,
        encoder_mask: torch.Tensor,
        first_position: int = 0,
        query_mode: str = "incremental",
        state: Optional[SRformerState] = None,
    ) -> torch.Tensor:
        """[B, T, d_model] for positions first_position.. (see the class docstring); updates ``state`` when given."""
        self._check_call(hidden, encoder_hidden, first_position, query_mode)
        batch = hidden.shape[0]
        if state is not None and (state.membrane.shape[0] != batch or state.output.shape[0] != batch
                                  or state.segment.shape != (batch,)):
            raise ValueError(f"state is for {state.membrane.shape[0]} rows, the call has {batch}")
        q = self.project_query(hidden)
        keys, values = self.project_keys_values(encoder_hidden)
        layout = self._layout(keys, values, encoder_mask)
        context, plan = self._segment_term(q, layout, first_position, query_mode)
        if layout.paper:
            context = self._paper_recurrent(q, layout, plan, context, first_position, query_mode, state)
        else:
            context = self._causal_recurrent(q, layout, plan, context, first_position, state)
        return self.project_output(context)

    # --- paper semantics --------------------------------------------------------------------
    def _paper_schedule(self, m: int, plan: List[Tuple[int, int]], first_position: int, query_mode: str,
                        previous: Optional[int]) -> Tuple[List[int], List[int], int]:
        """RAF steps of a call (segments, in order, including the replayed prefix), the number of steps
        done before each query, and p after the call. ``previous``: p from a given state, None = replay."""
        t5 = self.family == "t5"
        steps: List[int] = []
        p = -1 if first_position == 0 or previous is None else previous
        if previous is None:  # the steps positions 0..first_position-1 made
            for t in range(first_position):
                j = decoding_segment(t, m, self.options.gen_len)
                if t5:
                    steps.append(j)
                elif j != p:
                    steps.append(j)
                    p = j
        versions: List[int] = []
        for i, (j, _) in enumerate(plan):
            if query_mode == "paper_training":
                if j != p:
                    steps.append(j)
                    p = j
            elif query_mode == "incremental" or i == 0:
                if t5:
                    steps.append(j)  # T5's eval path never records p
                elif j != p:
                    steps.append(j)
                    p = j
            versions.append(len(steps))
        return steps, versions, p

    def _paper_recurrent(self, q: torch.Tensor, layout: _EncoderLayout, plan: List[Tuple[int, int]],
                         context: torch.Tensor, first_position: int, query_mode: str,
                         state: Optional[SRformerState]) -> torch.Tensor:
        s, m = self.options.segment_size, layout.num_segments
        batch, heads, _, d = q.shape
        keys, values = layout.keys, layout.values  # K̃, Ṽ (zero rows appended)
        split_keys = keys.reshape(batch, heads, m, s, d)
        split_values = values.reshape(batch, heads, m, s, d)
        segment_products = torch.matmul(split_keys.transpose(-1, -2), split_values)  # [B, H, m, d, d]
        total = torch.matmul(keys.transpose(-1, -2), values)  # KV, the authors' kv_mem
        if self.family == "bart":
            inputs = torch.clamp(total, -BART_CLAMP, BART_CLAMP)[:, :, None] - torch.clamp(
                segment_products, -BART_CLAMP, BART_CLAMP)
        else:
            inputs = total[:, :, None] - segment_products
        currents = nn.functional.linear(inputs, self.SNN_kv.weight).unbind(2)  # Xin_j = P_j Wᵀ
        norms = torch.linalg.vector_norm(keys, dim=2)  # [B, H, d], over all S positions

        previous: Optional[int] = None
        if state is not None:
            firsts = set(state.segment.tolist())
            if len(firsts) != 1:
                raise ValueError("paper semantics: every row of the state must have the same segment index p")
            previous = int(firsts.pop())
        steps, versions, final_segment = self._paper_schedule(m, plan, first_position, query_mode, previous)

        shape = (batch, heads, d, d)
        if state is not None and first_position > 0:
            membrane, output = state.membrane, state.output
        else:
            membrane = q.new_zeros(shape)
            output = state.output if state is not None else q.new_zeros(shape)
        kept_output = output
        runs = _runs([(v,) for v in versions])
        parts = dict(zip((v for (v,), _, _ in runs), q.split([end - begin for _, begin, end in runs], dim=2)))
        pieces: List[torch.Tensor] = []
        for step in range(len(steps) + 1):
            if step > 0:
                output, membrane = self.raf_step(currents[steps[step - 1]], membrane)
            if step in parts:  # the queries that see R after this many steps
                pieces.append(_divide_by_norms(torch.matmul(parts[step], output), norms))
        if pieces:
            context = context + torch.cat(pieces, dim=2)
        if state is not None:
            state.membrane = membrane
            # The authors' training forward keeps R in a local variable.
            state.output = kept_output if query_mode == "paper_training" else output
            state.segment = torch.full_like(state.segment, final_segment)
        return context

    # --- causal semantics -------------------------------------------------------------------
    def _causal_recurrent(self, q: torch.Tensor, layout: _EncoderLayout, segments: torch.Tensor,
                          context: torch.Tensor, first_position: int, state: Optional[SRformerState]) -> torch.Tensor:
        assert layout.row_segments is not None
        s = self.options.segment_size
        batch, heads, n, d = q.shape
        most = layout.num_slots // s
        split_keys = layout.keys.reshape(batch, heads, most, s, d)
        split_values = layout.values.reshape(batch, heads, most, s, d)
        last = int(segments.max().item()) if n > 0 else -1

        shape = (batch, heads, d, d)
        if state is not None and first_position > 0:
            membrane, output, passed = state.membrane, state.output, state.segment.to(q.device)
            behind = (segments[:, :1] >= 0) & (segments[:, :1] < passed[:, None])
            if n > 0 and bool(behind.any()):
                row = int(behind.nonzero()[0, 0])
                raise ValueError(
                    f"SRformer cross-attention (causal): decoder position {first_position} of row {row} maps to "
                    f"segment {int(segments[row, 0])} but the state already passed segment {int(passed[row])}; "
                    "positions must not go back without restarting at 0")
        else:
            membrane, output = q.new_zeros(shape), q.new_zeros(shape)
            passed = torch.zeros(batch, dtype=torch.long, device=q.device)
        resumed = bool((passed > 0).any())
        final_segment = torch.maximum(passed, segments[:, -1]) if n > 0 else passed
        final_membrane, final_output = membrane, output

        if last >= 1:
            # P_j = Σ_{k<j} K_kᵀV_k over real tokens; Xin_j = P_j Wᵀ (j = 1..last).
            products = torch.matmul(split_keys[:, :, :last].transpose(-1, -2), split_values[:, :, :last])
            inputs = torch.cumsum(products, dim=2)
            if self.family == "bart":
                inputs = torch.clamp(inputs, -BART_CLAMP, BART_CLAMP)
            currents = nn.functional.linear(inputs, self.SNN_kv.weight).unbind(2)  # Xin_1..Xin_last
            squares = torch.cumsum((split_keys[:, :, :last + 1] ** 2).sum(dim=3), dim=2)  # [B, H, last+1, d]
            positive = squares > 0
            norms = torch.where(positive, torch.sqrt(torch.where(positive, squares, torch.ones_like(squares))),
                                torch.zeros_like(squares)).unbind(2)
            ranges = self._causal_ranges(segments)
            for j in range(1, last + 1):
                stepped_output, stepped_membrane = self.raf_step(currents[j - 1], membrane)
                if resumed:  # rows whose state already passed boundary j keep it
                    active = (passed < j)[:, None, None, None]
                    output = torch.where(active, stepped_output, output)
                    membrane = torch.where(active, stepped_membrane, membrane)
                else:
                    output, membrane = stepped_output, stepped_membrane
                if state is not None:
                    reached = (final_segment == j)[:, None, None, None]
                    final_output = torch.where(reached, output, final_output)
                    final_membrane = torch.where(reached, membrane, final_membrane)
                if j in ranges:
                    begin, end = ranges[j]
                    product = _divide_by_norms(torch.matmul(q[:, :, begin:end], output), norms[j])
                    mine = (segments[:, begin:end] == j)[:, None, :, None]
                    context[:, :, begin:end] += torch.where(mine, product, torch.zeros_like(product))
        if state is not None:
            if first_position == 0:
                untouched = (final_segment == 0)[:, None, None, None]
                zeros = q.new_zeros(shape)
                final_output = torch.where(untouched, zeros, final_output)
                final_membrane = torch.where(untouched, zeros, final_membrane)
            state.membrane, state.output, state.segment = final_membrane, final_output, final_segment
        return context


def make_cross_attention(
    family: str, d_model: int, num_heads: int, head_dim: int, options: Optional[AttentionOptions] = None
) -> CrossAttention:
    """The cross-attention module ``options`` asks for (the family's defaults, kind full, when None)."""
    options = options or AttentionOptions.defaults_for(family)
    if options.kind == "full":
        return FullCrossAttention(family, d_model, num_heads, head_dim, options)
    if options.kind == "segmented":
        return SegmentedCrossAttention(family, d_model, num_heads, head_dim, options)
    return SRformerCrossAttention(family, d_model, num_heads, head_dim, options)

#pragma once
// SRformer cross-attention: the segmented term plus a recurrent term carried by
// a RAF neuron (attention/raf_neuron.hpp). For a query q at segment j, per head:
//
//     o = softmax(q K_jᵀ + b) V_j  +  (q R) ⊘ n
//
// R is the neuron's last output, driven by a d×d summary P_j of the encoder
// segments other than j, and n holds column L2 norms of K (division per value
// column c by the norm of key column c, as in the authors' code).
//
// Paper semantics (the authors' code, README of tests/data/srformer-official):
//   P_j = KV − K_jᵀV_j (T5), clip(KV,±2) − clip(K_jᵀV_j,±2) (BART), KV = KᵀV over
//   all S padded positions, so P_j includes FUTURE segments; n over all S positions.
//   Reset (U = 0, p = −1) when first_position == 0. Incremental / eval-at-t calls:
//   T5 steps the RAF at every call (p untouched), BART only when j ≠ p (then p = j).
//   Training calls: per-query segments, step when j_i ≠ p (p = j_i), R kept in a
//   local (State::output is left as it was, like the authors' `kmvm` attribute).
//
// Causal semantics (ours): segments are cut from the row's real tokens; segment j
// sees P_j = Σ_{k<j} K_kᵀV_k (BART: clipped to ±2 like the authors' clamp) and
// n_j = column norms over the keys visible to it (segments 0..j). The RAF steps
// once per crossed segment boundary: when position t enters segment j(t) from
// segment p, it steps with P_{p+1}, ..., P_{j(t)} in order (a jump over several
// segments therefore still integrates every skipped segment once). At segment 0
// nothing precedes, R = 0 and the recurrent term is skipped. Hence the output at
// position i depends only on encoder segments 0..j(i), padding never matters, and
// a padded batch row equals the same sequence run alone.
//
// The neuron's input current Xin_j = P_j Wᵀ depends on the encoder and W only, never on
// the decoder, so prepare() computes it for every segment, once per input, as one GEMM
// over all segments and heads ([m·H·d, d] × [d, d]). A RAF step while decoding is then
// element-wise (U = λU + Xin_j, …): O(d²) per head instead of O(d³), whatever the number
// of hypotheses, which keeps a decoding step's cost flat as N (and the number of
// boundaries crossed per step) grows, and makes paper-semantics T5, which steps at every
// token, cheap. The results are those of stepping with P_j up to float rounding.
//
// Memory holds per encoder row the Xin_j of every segment (heads stacked, [m·H·d, d])
// and the norms, computed once per input; State holds U, R and the segment index of
// one hypothesis and is a plain copyable value (beam reordering copies it).
#include <cstdint>
#include <string>
#include <vector>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/attention/detail/segment_memory.hpp"
#include "srformer/attention/options.hpp"
#include "srformer/attention/raf_neuron.hpp"
#include "srformer/attention/segments.hpp"
#include "srformer/io/checkpoint.hpp"
#include "srformer/kernels/attention.hpp"
#include "srformer/kernels/gemm.hpp"
#include "srformer/kernels/matmul.hpp"

namespace srformer::attention {

class SrformerCrossAttention {
 public:
  struct Parameters {
    CrossAttentionOptions options;
    RafParameters raf;
    /// True when the RAF parameters were initialised here (allow_fresh_raf_parameters).
    bool fresh = false;
  };

  struct Memory {
    detail::SegmentMemory segments;
    /// Per encoder row: the RAF input current Xin_j = P_j Wᵀ for every segment j, heads
    /// stacked: rows (j·H + h)·d .. +d. (Causal: Xin_0 = 0, never used.)
    std::vector<RowMatrix> raf_currents;
    /// Per encoder row: column norms of K. Paper: [H, d] over all S positions.
    /// Causal: [m·H, d], row j·H + h over the positions of segments 0..j.
    std::vector<RowMatrix> key_norms;
    /// Paper only, per encoder row: KV = K̃ᵀṼ per head [H·d, d] (BART: clamped), the
    /// authors' `kv_mem`. Empty in causal semantics.
    std::vector<RowMatrix> kv_total;

    Index num_segments(Index row) const { return segments.num_segments(row); }
    /// Xin_j of all heads of row `row`: [H·d, d].
    detail::ConstRowsBlock raf_current(Index row, Index segment) const {
      const Index block = segments.heads() * segments.head_dim();
      return raf_currents[static_cast<std::size_t>(row)].middleRows(segment * block, block);
    }
    /// Norms that divide the recurrent term of head h at segment j.
    auto norms(Index row, Index segment, Index head) const { return norms_of_heads(row, segment).row(head); }
    /// The norms of all heads at segment j: [H, d].
    detail::ConstRowsBlock norms_of_heads(Index row, Index segment) const {
      const RowMatrix& table = key_norms[static_cast<std::size_t>(row)];
      const Index first = segments.semantics == Semantics::Paper ? 0 : segment * segments.heads();
      return table.middleRows(first, segments.heads());
    }
  };

  struct State {
    RowMatrix membrane;  // U, [H·d, d]
    RowMatrix output;    // R, [H·d, d]
    /// Paper: the authors' previous segment index p (−1 = none).
    /// Causal: the last segment whose boundary the RAF has stepped (0 = none yet).
    Index segment = -1;
  };

  static constexpr const char* name() { return "srformer"; }

  /// Reads `<prefix>SNN_kv.weight` [d, d], `<prefix>leak` and `<prefix>threshold` ([1]).
  /// A checkpoint without them is refused (ConfigError naming the tensor) unless
  /// options.allow_fresh_raf_parameters, which initialises them as the authors do.
  static Parameters load_parameters(const io::Checkpoint& checkpoint, const std::string& prefix, Index head_dim,
                                    const CrossAttentionOptions& options) {
    options.validate();
    if (head_dim < 1) throw ConfigError("SRformer cross-attention: head_dim must be positive, got " +
                                        std::to_string(head_dim));
    const std::string weight_name = prefix + "SNN_kv.weight";
    const std::string leak_name = prefix + "leak";
    const std::string threshold_name = prefix + "threshold";
    const std::string where = "checkpoint " + checkpoint.folder().string();
    Parameters params;
    params.options = options;
    const bool has_weight = checkpoint.contains(weight_name);
    const bool has_leak = checkpoint.contains(leak_name);
    const bool has_threshold = checkpoint.contains(threshold_name);
    if (has_weight && has_leak && has_threshold) {
      params.raf.weight = checkpoint.tensor(weight_name, {head_dim, head_dim}).matrix();
      params.raf.leak = read_scalar(checkpoint, leak_name);
      params.raf.threshold = read_scalar(checkpoint, threshold_name);
    } else if (!has_weight && !has_leak && !has_threshold) {
      if (!options.allow_fresh_raf_parameters)
        throw ConfigError(where + ": tensor '" + weight_name +
                          "' is missing (and its leak/threshold): SRformer cross-attention needs the RAF "
                          "parameters SNN_kv.weight, leak and threshold in every decoder layer, so this checkpoint "
                          "was not trained with SRformer. Use full or segmented cross-attention, or set "
                          "allow_fresh_raf_parameters to initialise them freshly (untrained: for experiments "
                          "and timing only)");
      params.raf = fresh_raf_parameters(options.flavor, head_dim, options.fresh_raf_seed ^ detail::fnv1a(prefix),
                                        options.fresh_raf_init_std);
      params.fresh = true;
    } else {
      const std::string missing = !has_weight ? weight_name : !has_leak ? leak_name : threshold_name;
      throw ConfigError(where + ": tensor '" + missing +
                        "' is missing while other RAF parameters of the same layer are present; the checkpoint "
                        "is incomplete");
    }
    params.raf.validate(where + ", " + prefix + "SNN_kv");
    return params;
  }

  Memory prepare(const Parameters& params, const EncoderSide& side, FlopCounter* flops = nullptr) const {
    Memory memory;
    memory.segments = detail::build_segment_memory(params.options, side, name());
    params.raf.validate("SRformer cross-attention");
    if (params.raf.dim() != side.head_dim)
      throw ConfigError("SRformer cross-attention: RAF weight SNN_kv is [" + std::to_string(params.raf.dim()) +
                        ", " + std::to_string(params.raf.dim()) + "] but the attention head_dim is " +
                        std::to_string(side.head_dim));
    if (params.fresh && params.options.flavor != side.flavor)
      throw ConfigError(std::string("SRformer cross-attention: fresh RAF parameters were initialised for ") +
                        flavor_name(params.options.flavor) + " but the model is " + flavor_name(side.flavor) +
                        " (set CrossAttentionOptions::flavor, e.g. with defaults_for())");
    const auto batch = static_cast<std::size_t>(side.batch);
    memory.raf_currents.resize(batch);
    memory.key_norms.resize(batch);
    if (params.options.semantics == Semantics::Paper) memory.kv_total.resize(batch);
    for (Index b = 0; b < side.batch; ++b) {
      if (params.options.semantics == Semantics::Paper)
        prepare_paper_row(params, memory, b, flops);
      else
        prepare_causal_row(params, memory, b, flops);
    }
    return memory;
  }

  State initial_state(const Parameters&, const Memory& memory) const {
    const Index rows = memory.segments.heads() * memory.segments.head_dim();
    State state;
    state.membrane = RowMatrix::Zero(rows, memory.segments.head_dim());
    state.output = RowMatrix::Zero(rows, memory.segments.head_dim());
    state.segment = memory.segments.semantics == Semantics::Paper ? -1 : 0;
    return state;
  }

  void attend(const Parameters& params, const Memory& memory, State& state, Index memory_row,
              const Eigen::Ref<const RowMatrix>& queries, Index first_position, QueryMode mode,
              Eigen::Ref<RowMatrix> out, FlopCounter* flops = nullptr) const {
    attend_traced(params, memory, state, memory_row, queries, first_position, mode, out, flops, nullptr);
  }

  /// As attend(), and records per-query segments and every RAF step in `trace` when given.
  void attend_traced(const Parameters& params, const Memory& memory, State& state, Index memory_row,
                     const Eigen::Ref<const RowMatrix>& queries, Index first_position, QueryMode mode,
                     Eigen::Ref<RowMatrix> out, FlopCounter* flops, AttendTrace* trace) const {
    const detail::SegmentMemory& segments = memory.segments;
    detail::check_attend_call(segments, memory_row, queries, first_position, mode, out, name());
    check_state(memory, state);
    if (trace) trace->clear();
    const bool paper = segments.semantics == Semantics::Paper;
    const bool t5 = segments.flavor() == ModelFlavor::T5;
    const Index n = queries.rows();
    const Index m = memory.num_segments(memory_row);

    if (first_position == 0) {  // a new sequence starts: forget the previous one
      state.membrane.setZero();
      if (paper) {
        state.segment = -1;  // the authors keep R (kmvm); it is recomputed before any use
      } else {
        state.output.setZero();
        state.segment = 0;
      }
    }
    if (m == 0) {  // causal, a row without real tokens: nothing to attend to
      out.setZero();
      if (trace) trace->segment_per_query.assign(static_cast<std::size_t>(n), -1);
      return;
    }

    // The authors' training forward keeps R in a local variable (per thread, so that
    // repeated calls reuse its storage).
    thread_local RowMatrix training_output;
    RowMatrix* output = &state.output;
    if (mode == QueryMode::PaperTraining) {
      training_output = state.output;
      output = &training_output;
    }

    Index begin = 0;
    detail::SegmentScoring run;
    for (Index i = 0; i <= n; ++i) {
      detail::SegmentScoring next;
      Index first_step = 0, last_step = -1;  // RAF steps before query i: segments first_step..last_step
      if (i < n) {
        next = detail::query_scoring(segments, m, mode, first_position, i, n);
        if (trace) trace->segment_per_query.push_back(next.segment);
        const Index j = next.segment;
        if (!paper) {
          if (j < state.segment)
            throw InputError("SRformer cross-attention (causal): decoder position " +
                             std::to_string(first_position + i) + " maps to segment " + std::to_string(j) +
                             " but the state already passed segment " + std::to_string(state.segment) +
                             "; positions must not go back without restarting at 0");
          first_step = state.segment + 1;
          last_step = j;
        } else if (mode == QueryMode::PaperTraining) {
          if (j != state.segment) first_step = last_step = j;
        } else if (mode == QueryMode::Incremental || i == 0) {
          if (t5 || j != state.segment) first_step = last_step = j;
        }
      }
      const bool steps = last_step >= first_step;
      const bool same = i > begin && i < n && !steps && next.segment == run.segment &&
                        next.mask_segment == run.mask_segment;
      if (same) continue;
      if (i > begin)
        attend_run(memory, state, *output, memory_row, queries.middleRows(begin, i - begin), run,
                   out.middleRows(begin, i - begin), flops);
      for (Index j = first_step; j <= last_step; ++j) {
        const auto current = memory.raf_current(memory_row, j);
        RafNeuron::integrate(params.raf, current, state.membrane, *output);
        if (trace) {
          trace->raf_step_segments.push_back(j);
          trace->raf_currents.emplace_back(current);
        }
      }
      // T5's eval path never records the segment (the authors' p stays as it was).
      if (steps && !(paper && t5 && mode != QueryMode::PaperTraining)) state.segment = last_step;
      begin = i;
      run = next;
    }
  }

 private:
  static float read_scalar(const io::Checkpoint& checkpoint, const std::string& name) {
    const FloatTensor tensor = checkpoint.tensor(name);
    if (tensor.numel() != 1)
      throw TensorError("checkpoint " + checkpoint.folder().string() + ": tensor '" + name + "' has shape " +
                        shape_to_string(tensor.shape()) + " but a single value ([1]) is expected");
    return tensor.data()[0];
  }

  static void check_state(const Memory& memory, const State& state) {
    const Index rows = memory.segments.heads() * memory.segments.head_dim();
    const Index d = memory.segments.head_dim();
    if (state.membrane.rows() != rows || state.membrane.cols() != d || state.output.rows() != rows ||
        state.output.cols() != d)
      throw InputError("SRformer cross-attention: the state's membrane is [" + std::to_string(state.membrane.rows()) +
                       ", " + std::to_string(state.membrane.cols()) + "] but this layer needs [" +
                       std::to_string(rows) + ", " + std::to_string(d) + "]; make states with initial_state()");
  }

  /// Paper: P_j = KV − K_jᵀV_j (T5) or clip(KV) − clip(K_jᵀV_j) (BART) over all S
  /// positions, and the norms of K's columns over all S positions.
  static void prepare_paper_row(const Parameters& params, Memory& memory, Index row, FlopCounter* flops) {
    const detail::SegmentMemory& segments = memory.segments;
    const Index H = segments.heads(), d = segments.head_dim(), s = segments.segment_size;
    const Index S = segments.length(row), m = segments.num_segments(row);
    const bool bart = segments.flavor() == ModelFlavor::Bart;
    RowMatrix inputs(m * H * d, d);  // P_j, turned into currents at the end
    RowMatrix& norms = memory.key_norms[static_cast<std::size_t>(row)];
    RowMatrix& total = memory.kv_total[static_cast<std::size_t>(row)];
    norms.resize(H, d);
    total.resize(H * d, d);
    const auto keys = segments.keys(row);
    const auto values = segments.values(row);
    for (Index h = 0; h < H; ++h) {
      const auto K = keys.middleCols(h * d, d);
      const auto V = values.middleCols(h * d, d);
      auto kv = total.middleRows(h * d, d);
      kv.setZero();
      for (Index j = 0; j < m; ++j) {
        const SegmentRange range = segment_range(j, s, S);
        auto product = inputs.middleRows((j * H + h) * d, d);
        kernels::transposed_matmul(K.middleRows(range.begin, range.size()), V.middleRows(range.begin, range.size()),
                                   product);
        kv += product;
      }
      if (bart) kv = kv.cwiseMax(-2.0f).cwiseMin(2.0f);
      for (Index j = 0; j < m; ++j) {
        auto product = inputs.middleRows((j * H + h) * d, d);
        if (bart)
          product = kv - product.cwiseMax(-2.0f).cwiseMin(2.0f);
        else
          product = kv - product;
      }
      norms.row(h) = K.colwise().norm();
    }
    RowMatrix& currents = memory.raf_currents[static_cast<std::size_t>(row)];
    currents.resize(m * H * d, d);
    kernels::gemm_transposed(inputs, params.raf.weight, currents);
    if (flops) {
      flops->kv_products += static_cast<std::uint64_t>(H * S * d * d);
      flops->raf_linear += static_cast<std::uint64_t>(m * H) * RafNeuron::step_multiply_adds(d);
      flops->normalisation += static_cast<std::uint64_t>(H * S * d);
    }
  }

  /// Causal: P_0 = 0, P_j = Σ_{k<j} K_kᵀV_k (BART: clipped), norms over segments 0..j.
  /// The last segment's product is never needed, so it is not computed.
  static void prepare_causal_row(const Parameters& params, Memory& memory, Index row, FlopCounter* flops) {
    const detail::SegmentMemory& segments = memory.segments;
    const Index H = segments.heads(), d = segments.head_dim(), s = segments.segment_size;
    const Index N = segments.length(row), m = segments.num_segments(row);
    const bool bart = segments.flavor() == ModelFlavor::Bart;
    RowMatrix inputs(m * H * d, d);  // P_j, turned into currents at the end
    RowMatrix& norms = memory.key_norms[static_cast<std::size_t>(row)];
    norms.resize(m * H, d);
    const auto keys = segments.keys(row);
    const auto values = segments.values(row);
    detail::ScratchArena& scratch = detail::thread_scratch();
    MatrixMap running = scratch.matrix(detail::kPrepareSlot, d + 1, d);
    for (Index h = 0; h < H; ++h) {
      const auto K = keys.middleCols(h * d, d);
      const auto V = values.middleCols(h * d, d);
      auto sum = running.topRows(d);
      auto squares = running.row(d);
      sum.setZero();
      squares.setZero();
      for (Index j = 0; j < m; ++j) {
        if (j > 0) {
          const SegmentRange previous = segment_range(j - 1, s, N);
          kernels::transposed_matmul(K.middleRows(previous.begin, previous.size()),
                                     V.middleRows(previous.begin, previous.size()), sum, /*accumulate=*/true);
        }
        auto input = inputs.middleRows((j * H + h) * d, d);
        if (bart)
          input = sum.cwiseMax(-2.0f).cwiseMin(2.0f);
        else
          input = sum;
        const SegmentRange range = segment_range(j, s, N);
        squares += K.middleRows(range.begin, range.size()).colwise().squaredNorm();
        norms.row(j * H + h) = squares.cwiseSqrt();
      }
    }
    // Xin_j for j >= 1 (P_0 = 0, and segment 0 never steps the neuron).
    RowMatrix& currents = memory.raf_currents[static_cast<std::size_t>(row)];
    currents.resize(m * H * d, d);
    if (m > 0) {
      currents.topRows(H * d).setZero();
      kernels::gemm_transposed(inputs.bottomRows((m - 1) * H * d), params.raf.weight,
                               currents.bottomRows((m - 1) * H * d));
    }
    if (flops && m > 0) {
      flops->kv_products += static_cast<std::uint64_t>(H * (m - 1) * s * d * d);
      flops->raf_linear += static_cast<std::uint64_t>((m - 1) * H) * RafNeuron::step_multiply_adds(d);
      flops->normalisation += static_cast<std::uint64_t>(H * N * d);
    }
  }

  /// Segmented term, then the recurrent term with the current R for one run of queries.
  static void attend_run(const Memory& memory, const State& state, const RowMatrix& output, Index row,
                         const Eigen::Ref<const RowMatrix>& queries, const detail::SegmentScoring& scoring,
                         Eigen::Ref<RowMatrix> out, FlopCounter* flops) {
    const detail::SegmentMemory& segments = memory.segments;
    detail::attend_segment(segments, row, queries, scoring, out, flops);
    // Causal: before the first boundary R is exactly zero, so the term is skipped.
    if (segments.semantics == Semantics::Causal && state.segment <= 0) return;
    const Index n = queries.rows(), H = segments.heads(), d = segments.head_dim();
    // A key column that is zero everywhere (norm 0) has nothing to normalise: its term is 0, not NaN.
    kernels::add_normalised_recurrent(queries, output, memory.norms_of_heads(row, scoring.segment), H, d, out);
    if (flops) flops->recurrent += static_cast<std::uint64_t>(n * H * d * d);
  }
};

}  // namespace srformer::attention

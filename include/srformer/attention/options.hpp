#pragma once
// User-facing choice of cross-attention and its settings: which policy (full,
// segmented, SRformer), the segment size s, the authors' "gen_len" G, and which
// semantics the segmented/SRformer policies follow (the authors' code, or our
// causal variant; see attention/segments.hpp and notes/attention_semantics.md).
#include <cmath>
#include <cstdint>
#include <string>

#include "srformer/attention/cross_attention.hpp"
#include "srformer/core/error.hpp"
#include "srformer/core/printable.hpp"
#include "srformer/core/tensor.hpp"

namespace srformer::attention {

enum class AttentionKind { Full, Segmented, Srformer };

/// Paper: exactly what the authors' code computes (future segments feed the
/// recurrence, padding is partly attended, T5 steps the RAF every token).
/// Causal: ours; decoder position i only ever sees encoder segments up to j(i),
/// padding is excluded everywhere and the RAF steps once per segment boundary.
enum class Semantics { Paper, Causal };

inline const char* to_string(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::Full: return "full";
    case AttentionKind::Segmented: return "segmented";
    case AttentionKind::Srformer: return "srformer";
  }
  return "?";
}

inline const char* to_string(Semantics semantics) {
  return semantics == Semantics::Paper ? "paper" : "causal";
}

inline const char* flavor_name(ModelFlavor flavor) { return flavor == ModelFlavor::T5 ? "t5" : "bart"; }

/// "full" | "segmented" | "srformer"; OptionError otherwise.
inline AttentionKind parse_attention_kind(const std::string& text) {
  if (text == "full") return AttentionKind::Full;
  if (text == "segmented") return AttentionKind::Segmented;
  if (text == "srformer") return AttentionKind::Srformer;
  throw OptionError("unknown cross-attention kind " + quote(text) + " (expected full, segmented or srformer)");
}

/// "paper" | "causal"; OptionError otherwise.
inline Semantics parse_semantics(const std::string& text) {
  if (text == "paper") return Semantics::Paper;
  if (text == "causal") return Semantics::Causal;
  throw OptionError("unknown attention semantics " + quote(text) + " (expected paper or causal)");
}

/// Largest segment size CrossAttentionOptions::validate() accepts (the authors use 16 and 64).
inline constexpr Index kMaxSegmentSize = Index{1} << 16;

struct CrossAttentionOptions {
  AttentionKind kind = AttentionKind::Full;
  /// The model the options are for. Decides the authors' defaults and how fresh
  /// RAF parameters are initialised; prepare() checks it against the encoder side.
  ModelFlavor flavor = ModelFlavor::T5;
  /// Encoder positions per segment (authors: T5 64, BART 16).
  Index segment_size = 64;
  /// Decoder length over which the segments are spread: position t uses segment
  /// min(m-1, t*m div G) (authors' `gen_len`, 128).
  Index gen_len = 128;
  /// Defaults to the authors' semantics so that their checkpoints behave as trained.
  Semantics semantics = Semantics::Paper;
  /// A checkpoint without SNN_kv/leak/threshold is refused unless this is set;
  /// then they are initialised as the authors' code would (untrained!).
  bool allow_fresh_raf_parameters = false;
  /// Seed of the fresh initialisation (mixed with the layer's tensor prefix).
  std::uint64_t fresh_raf_seed = 0;
  /// BART's fresh SNN_kv ~ N(0, init_std); HF BART's default init_std is 0.02.
  float fresh_raf_init_std = 0.02f;

  /// OptionError naming the offending value.
  void validate() const {
    if (segment_size < 1)
      throw OptionError("cross-attention segment size must be at least 1, got " + std::to_string(segment_size));
    if (segment_size > kMaxSegmentSize)
      throw OptionError("cross-attention segment size " + std::to_string(segment_size) + " is larger than " +
                        std::to_string(kMaxSegmentSize) +
                        ": paper semantics pads a short segment with zero rows up to the segment size, so "
                        "memory would follow the setting rather than the input");
    if (gen_len < 1)
      throw OptionError("cross-attention gen_len (G) must be at least 1, got " + std::to_string(gen_len));
    if (!(std::isfinite(fresh_raf_init_std) && fresh_raf_init_std > 0.0f))
      throw OptionError("fresh RAF init std must be a positive finite number, got " +
                        std::to_string(fresh_raf_init_std));
  }
};

/// The authors' hard-coded settings for a model: s = 64 (T5) or 16 (BART), G = 128,
/// paper semantics, kind full (a plain checkpoint has no RAF parameters).
inline CrossAttentionOptions defaults_for(ModelFlavor flavor) {
  CrossAttentionOptions options;
  options.flavor = flavor;
  options.segment_size = flavor == ModelFlavor::T5 ? 64 : 16;
  options.gen_len = 128;
  return options;
}

}  // namespace srformer::attention

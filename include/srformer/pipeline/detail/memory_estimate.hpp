#pragma once
// How much memory a summarize() call will ask for, estimated from the model's
// sizes before anything is allocated, so that a batch or a beam count that cannot
// fit is refused with a message naming the setting (rather than ending in a bare
// std::bad_alloc after gigabytes were taken). The estimates count the large
// float buffers (activations, cross-attention keys/values and SRformer memory,
// self-attention caches, logits); they are meant to be within a small factor of
// the real peak, not exact.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "srformer/attention/options.hpp"
#include "srformer/core/tensor.hpp"
#include "srformer/models/config.hpp"

namespace srformer::detail {

/// The machine's physical memory, and the address-space limit (ulimit -v) when lower;
/// 0 when unknown.
inline std::uint64_t available_memory_bytes() {
  std::uint64_t bytes = 0;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) bytes = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const auto cap = static_cast<std::uint64_t>(limit.rlim_cur);
    bytes = bytes == 0 ? cap : std::min(bytes, cap);
  }
  return bytes;
}

/// Multiplication that saturates instead of overflowing (sizes may come from options).
inline std::uint64_t saturating_multiply(std::uint64_t a, std::uint64_t b) {
  if (a != 0 && b > UINT64_MAX / a) return UINT64_MAX;
  return a * b;
}

inline std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

inline std::uint64_t as_count(Index value) { return value > 0 ? static_cast<std::uint64_t>(value) : 0; }

/// Bytes of floats the encoder needs for `batch` rows of `length` tokens, including what
/// stays for decoding (encoder output, every decoder layer's cross K/V and the policy's memory).
inline std::uint64_t estimate_encode_bytes(const ModelConfig& c, const attention::CrossAttentionOptions& attention,
                                           Index batch, Index length) {
  const std::uint64_t tokens = saturating_multiply(as_count(batch), as_count(length));
  const std::uint64_t inner = as_count(std::max(c.inner_dim(false), c.inner_dim(true)));
  const std::uint64_t ffn = as_count(std::max(c.encoder_ffn_dim, c.decoder_ffn_dim));
  // Activations: hidden, normed copy, residual, output kept; q, k, v, attention; FFN hidden and gate.
  std::uint64_t per_token = 4 * as_count(c.d_model) + 4 * inner + 2 * ffn;
  // Cross-attention keys and values of every decoder layer.
  per_token = saturating_add(per_token, saturating_multiply(2 * as_count(c.decoder_layers), inner));
  std::uint64_t floats = saturating_multiply(tokens, per_token);
  // One row's attention scores and (T5) position bias: heads x length x length each.
  const std::uint64_t square = saturating_multiply(as_count(length), as_count(length));
  floats = saturating_add(floats, saturating_multiply(2 * as_count(c.encoder_heads), square));
  if (attention.kind == attention::AttentionKind::Srformer) {
    // Per row and decoder layer: the RAF input current of every segment, [m*H*d, d], plus KV.
    const std::uint64_t segments = as_count((length + attention.segment_size - 1) / std::max<Index>(1, attention.segment_size));
    const std::uint64_t per_segment =
        saturating_multiply(as_count(c.decoder_heads), saturating_multiply(as_count(c.head_dim), as_count(c.head_dim)));
    floats = saturating_add(floats, saturating_multiply(saturating_multiply(as_count(batch), as_count(c.decoder_layers)),
                                                        saturating_multiply(segments + 1, per_segment)));
  }
  return saturating_multiply(floats, sizeof(float));
}

/// Bytes of floats `rows` decoder hypotheses need at the start of decoding: the
/// self-attention caches (their first block of positions), the cross-attention state
/// (SRformer: membrane and output per head), and the logits with the copies the
/// logits processors and the search make.
inline std::uint64_t estimate_decode_bytes(const ModelConfig& c, const attention::CrossAttentionOptions& attention,
                                           Index rows, Index cache_positions) {
  const std::uint64_t inner = as_count(c.inner_dim(true));
  std::uint64_t per_row = saturating_multiply(saturating_multiply(2 * as_count(c.decoder_layers), inner),
                                              as_count(cache_positions));
  per_row = saturating_add(per_row, saturating_multiply(4, as_count(c.vocab_size)));
  if (attention.kind == attention::AttentionKind::Srformer)
    per_row = saturating_add(
        per_row, saturating_multiply(2 * as_count(c.decoder_layers),
                                     saturating_multiply(inner, as_count(c.head_dim))));
  return saturating_multiply(saturating_multiply(as_count(rows), per_row), sizeof(float));
}

/// "12.3 GiB", "512.0 MiB", "4.0 KiB".
inline std::string format_bytes(std::uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 6) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) return std::to_string(bytes) + " bytes";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

}  // namespace srformer::detail

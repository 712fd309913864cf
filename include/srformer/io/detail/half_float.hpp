#pragma once
// Exact IEEE binary16 and bfloat16 to float32 conversion (bit manipulation, so
// subnormals, infinities, NaN payloads and negative zero survive unchanged).
#include <cstdint>
#include <cstring>

namespace srformer::io::detail {

inline float float_from_bits(std::uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline float f16_to_f32(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  std::uint32_t exponent = (half >> 10) & 0x1fu;
  std::uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f)  // inf / NaN: keep the payload
    return float_from_bits(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return float_from_bits(sign);  // +-0
    // Subnormal half: normalise, every half subnormal is a normal float.
    exponent = 127 - 15 + 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= 0x3ffu;
    return float_from_bits(sign | (exponent << 23) | (mantissa << 13));
  }
  return float_from_bits(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

/// bfloat16 is the upper half of a float32.
inline float bf16_to_f32(std::uint16_t bf16) {
  return float_from_bits(static_cast<std::uint32_t>(bf16) << 16);
}

}  // namespace srformer::io::detail

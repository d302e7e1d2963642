#pragma once
/**
 * @file half.hpp
 * @brief Exact widening of IEEE binary16 (F16) and bfloat16 (BF16) bit patterns to float32.
 *
 * Both conversions are exact: every F16 and BF16 value, subnormals, infinities and NaNs included,
 * is representable as a float32. NaNs keep their sign and payload (shifted into the top of the
 * float32 mantissa), so a quiet NaN stays quiet and a signalling one stays signalling.
 */
#include <bit>
#include <cstdint>

namespace joule::io::detail {

/** @brief The float32 equal to the IEEE binary16 value with bit pattern @p h. */
inline float f16_to_f32(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  std::uint32_t mantissa = h & 0x3FFu;
  std::uint32_t bits;
  if (exponent == 0x1F) {
    // Inf (mantissa 0) or NaN: all-ones float32 exponent, payload in the high mantissa bits.
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    // Normal: rebias the exponent from 15 to 127.
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal m · 2^-24: every one is a normal float32. Shift the leading 1 up to the implicit
    // bit position (bit 10), lowering the exponent by one per shift from the subnormal's 2^-14.
    int e = -14;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (static_cast<std::uint32_t>(e + 127) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

/** @brief The float32 equal to the bfloat16 value with bit pattern @p b (its top 16 bits). */
inline float bf16_to_f32(std::uint16_t b) noexcept { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

}  // namespace joule::io::detail

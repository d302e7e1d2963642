#pragma once
/**
 * @file bytes.hpp
 * @brief Little-endian loads and stores and overflow-checked size arithmetic for joule's file readers.
 *
 * Both file formats joule reads are little-endian on disk. Loads go through memcpy (the bytes of a
 * mapped file need not be aligned for the type) and swap only on a big-endian host, so the same
 * code is correct everywhere and a plain load on the usual little-endian host.
 */
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace joule::io::detail {

/** @brief Reverses the bytes of an unsigned integer. */
template <class U>
constexpr U byteswap(U value) noexcept {
  static_assert(std::is_unsigned_v<U>);
  U out = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) {
    out = static_cast<U>((out << 8) | (value & 0xFF));
    value = static_cast<U>(value >> 8);
  }
  return out;
}

/** @brief The unsigned integer type of the same size as @p T. */
template <std::size_t N>
struct uint_of_size;
template <>
struct uint_of_size<1> {
  using type = std::uint8_t;
};
template <>
struct uint_of_size<2> {
  using type = std::uint16_t;
};
template <>
struct uint_of_size<4> {
  using type = std::uint32_t;
};
template <>
struct uint_of_size<8> {
  using type = std::uint64_t;
};

/** @brief Reads a little-endian @p T (integer or float) from @p p, which need not be aligned. */
template <class T>
T load_le(const std::byte* p) noexcept {
  using U = typename uint_of_size<sizeof(T)>::type;
  U bits;
  std::memcpy(&bits, p, sizeof(U));
  if constexpr (std::endian::native == std::endian::big) bits = byteswap(bits);
  return std::bit_cast<T>(bits);
}

/** @brief Writes @p value as little-endian bytes at @p p, which need not be aligned. */
template <class T>
void store_le(std::byte* p, T value) noexcept {
  using U = typename uint_of_size<sizeof(T)>::type;
  auto bits = std::bit_cast<U>(value);
  if constexpr (std::endian::native == std::endian::big) bits = byteswap(bits);
  std::memcpy(p, &bits, sizeof(U));
}

/** @brief a · b into @p out; false (and @p out untouched) when the product does not fit in uint64. */
inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

}  // namespace joule::io::detail

#pragma once
/**
 * @file npy.hpp
 * @brief Reading and writing NumPy .npy files (format versions 1.0, 2.0 and 3.0).
 *
 * Format: the magic "\x93NUMPY", a major and a minor version byte, the header length (u16
 * little-endian in 1.0, u32 in 2.0 and 3.0), then the header: a Python literal dict such as
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and ended by a
 * newline, then the array data, C order, exactly numel · itemsize bytes.
 *
 * The header is parsed by hand (the three keys in any order, quotes of either kind, tuple shapes
 * such as (3,) and (), trailing commas, any spacing) and checked before the data is touched.
 * Every failure is a joule::error naming the file and the offset involved. Not read: Fortran-order
 * arrays, big-endian data, object and structured dtypes, strings, complex numbers and dates.
 */
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <joule/core/error.hpp>
#include <joule/core/shape.hpp>
#include <joule/core/tensor.hpp>
#include <joule/io/detail/atomic_file.hpp>
#include <joule/io/detail/bytes.hpp>
#include <joule/io/detail/half.hpp>
#include <joule/io/detail/mapped_file.hpp>

namespace joule::io {

/** @brief The contents of a .npy file: dtype, shape and the raw little-endian C-order data. */
struct npy_array {
  std::string descr;                ///< NumPy's dtype string, as in the file: "<f4", "<i8", "|b1", ...
  char kind = 0;                    ///< 'f' float, 'i' signed, 'u' unsigned integer, 'b' bool
  std::size_t item_size = 0;        ///< bytes per element
  std::vector<std::int64_t> shape;  ///< any rank; () is a scalar
  std::vector<std::byte> data;      ///< numel · item_size bytes, little-endian, C order

  std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (const auto d : shape) n *= d;
    return n;
  }
};

namespace detail {

inline constexpr char kNpyMagic[] = "\x93NUMPY";
inline constexpr std::size_t kNpyMagicSize = 6;
// NumPy aligns the start of the data to 64 bytes (numpy.lib.format.ARRAY_ALIGN).
inline constexpr std::size_t kNpyAlign = 64;

inline std::string npy_shape_string(const std::vector<std::int64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

/**
 * @brief Parser of the header dict. Positions are reported as file offsets (header start + index)
 * so that a message points at the exact byte.
 */
class npy_header_parser {
 public:
  npy_header_parser(std::string_view text, std::size_t file_offset, const std::string& path)
      : text_(text), base_(file_offset), path_(path) {}

  void parse(npy_array& out, bool& fortran_order) {
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_space();
    expect('{', "the header must be a dict starting with '{'");
    skip_space();
    while (peek() != '}') {
      const std::size_t key_at = pos_;
      const std::string key = parse_string("a dict key");
      skip_space();
      expect(':', "expected ':' after the key");
      skip_space();
      if (key == "descr") {
        if (seen_descr) bad_at(key_at, "the key 'descr' appears twice");
        seen_descr = true;
        parse_descr(out);
      } else if (key == "fortran_order") {
        if (seen_order) bad_at(key_at, "the key 'fortran_order' appears twice");
        seen_order = true;
        fortran_order = parse_bool();
      } else if (key == "shape") {
        if (seen_shape) bad_at(key_at, "the key 'shape' appears twice");
        seen_shape = true;
        out.shape = parse_shape();
      } else {
        bad_at(key_at, "unexpected key '", key, "' (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        bad_at(pos_, "expected ',' or '}' after the value of '", key, "'");
      }
    }
    ++pos_;
    const std::pair<bool, const char*> required[] = {
        {seen_descr, "descr"}, {seen_order, "fortran_order"}, {seen_shape, "shape"}};
    for (const auto& [seen, key] : required)
      if (!seen) bad_at(pos_ - 1, "the header has no key '", key, "'");
    skip_space();
    if (pos_ != text_.size()) bad_at(pos_, "unexpected text after the header dict");
  }

 private:
  template <class... Parts>
  [[noreturn]] void bad_at(std::size_t index, Parts&&... parts) const {
    fail("npy file '", path_, "': malformed header at offset ", base_ + index, ": ", std::forward<Parts>(parts)...);
  }

  // The current character, or '\0' at the end (never a valid character of a header).
  char peek() const noexcept { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() noexcept {
    while (pos_ < text_.size() && std::string_view(" \n\t\r").find(text_[pos_]) != std::string_view::npos) ++pos_;
  }
  void expect(char c, const char* what) {
    if (peek() != c) bad_at(pos_, what);
    ++pos_;
  }

  std::string parse_string(const char* what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad_at(pos_, "expected ", what, " as a quoted string");
    const std::size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') bad_at(pos_, "escape sequences are not supported in ", what);
      ++pos_;
    }
    if (pos_ == text_.size()) bad_at(start - 1, "unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  bool parse_bool() {
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {std::string_view("False"), false}})
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    bad_at(pos_, "'fortran_order' must be True or False");
  }

  void parse_descr(npy_array& out) {
    const std::size_t at = pos_;
    if (peek() == '[') bad_at(at, "structured dtypes (a list 'descr') are not supported");
    const std::string descr = parse_string("the 'descr' value");
    if (descr.size() >= 2 && descr[1] == 'O')
      bad_at(at, "object arrays ('", descr, "') hold pickled Python objects and are not supported");
    if (descr.size() < 3) bad_at(at, "unsupported dtype '", descr, "'");
    const char order = descr[0], kind = descr[1];
    std::size_t size = 0;
    const std::string digits = descr.substr(2);
    if (digits == "1" || digits == "2" || digits == "4" || digits == "8")
      size = static_cast<std::size_t>(digits[0] - '0');
    if (order == '>' && size > 1)
      bad_at(at, "big-endian data ('", descr, "') is not supported; save it little-endian (e.g. with astype('<", kind,
             size, "'))");
    const bool known = (kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
                       ((kind == 'i' || kind == 'u') && size != 0) || (kind == 'b' && size == 1);
    const bool order_ok = order == '<' || ((order == '|' || order == '>') && size == 1);
    if (!known || !order_ok)
      bad_at(at, "unsupported dtype '", descr,
             "' (joule reads little-endian floats '<f2', '<f4', '<f8', integers "
             "'|i1', '<i2', '<i4', '<i8', unsigned '|u1' to '<u8' and booleans '|b1')");
    out.descr = descr;
    out.kind = kind;
    out.item_size = size;
  }

  std::int64_t parse_dim() {
    const std::size_t at = pos_;
    if (peek() == '-') bad_at(at, "shape dimensions must be non-negative");
    if (peek() < '0' || peek() > '9') bad_at(at, "expected a non-negative integer in the shape");
    std::int64_t value = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = peek() - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10)
        bad_at(at, "shape dimension does not fit in int64");
      value = value * 10 + digit;
      ++pos_;
    }
    return value;
  }

  // A Python tuple of integers: (), (3,), (3, 4), (3, 4,). "(3)" is an int in Python, not a tuple.
  std::vector<std::int64_t> parse_shape() {
    const std::size_t open = pos_;
    expect('(', "'shape' must be a tuple such as (3, 4), (3,) or ()");
    std::vector<std::int64_t> dims;
    bool trailing_comma = false;
    skip_space();
    while (peek() != ')') {
      dims.push_back(parse_dim());
      skip_space();
      trailing_comma = peek() == ',';
      if (trailing_comma) {
        ++pos_;
        skip_space();
      } else if (peek() != ')') {
        bad_at(pos_, "expected ',' or ')' in the shape");
      }
    }
    ++pos_;
    if (dims.size() == 1 && !trailing_comma)
      bad_at(open, "'shape' (", dims[0], ") is an integer in Python, not a tuple; a 1-D shape is written (", dims[0],
             ",)");
    return dims;
  }

  std::string_view text_;
  std::size_t base_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

// One little-endian integer narrower than 64 bits, widened to int64 (exact for every such type).
template <class Signed, class Unsigned>
std::int64_t load_int(const std::byte* p, bool is_signed) noexcept {
  return is_signed ? std::int64_t{load_le<Signed>(p)} : std::int64_t{load_le<Unsigned>(p)};
}

inline void check_npy_rank(const std::string& path, const npy_array& a) {
  require(a.shape.size() <= static_cast<std::size_t>(kMaxRank), "npy file '", path, "': rank ", a.shape.size(),
          " (shape ", npy_shape_string(a.shape), ") is above joule's maximum rank ", kMaxRank);
}

inline joule::shape npy_joule_shape(const npy_array& a) { return joule::shape(std::span<const std::int64_t>(a.shape)); }

template <class T>
void write_npy_impl(const std::string& path, const char* descr, tensor_view<const T> values) {
  require(values.numel() == 0 || values.data() != nullptr, "npy file '", path, "': the tensor of shape ",
          values.shape(), " has a null data pointer");
  const auto dims = values.shape().dims();
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " +
                       npy_shape_string(std::vector<std::int64_t>(dims.begin(), dims.end())) + ", }";
  // Preamble (magic, version, u16 length) + header + '\n' is padded with spaces to a multiple of
  // 64 bytes, as NumPy writes it, so that the data starts aligned.
  const std::size_t preamble = kNpyMagicSize + 2 + 2;
  const std::size_t total = (preamble + header.size() + 1 + kNpyAlign - 1) / kNpyAlign * kNpyAlign;
  header.append(total - preamble - header.size() - 1, ' ');
  header.push_back('\n');

  std::byte start[preamble];
  std::memcpy(start, kNpyMagic, kNpyMagicSize);
  start[6] = std::byte{1};
  start[7] = std::byte{0};
  store_le<std::uint16_t>(start + 8, static_cast<std::uint16_t>(header.size()));

  atomic_file file(path, "npy");
  file.write(start, preamble);
  file.write(header.data(), header.size());
  const auto n = static_cast<std::size_t>(values.numel());
  if constexpr (std::endian::native == std::endian::little) {
    file.write(values.data(), n * sizeof(T));
  } else {
    std::vector<std::byte> le(n * sizeof(T));
    for (std::size_t k = 0; k < n; ++k) store_le(le.data() + k * sizeof(T), values.data()[k]);
    file.write(le.data(), le.size());
  }
  file.commit();
}

}  // namespace detail

/** @brief Reads a .npy file: checks the whole header, then copies the data. */
inline npy_array read_npy(const std::string& path) {
  const detail::mapped_file map(path, "npy");
  const std::byte* base = map.data();
  const std::size_t size = map.size();
  const auto bad = [&](auto&&... parts) { fail("npy file '", path, "': ", parts...); };

  if (size == 0 || std::memcmp(base, detail::kNpyMagic, std::min(size, detail::kNpyMagicSize)) != 0)
    bad(size == 0 ? "the file is empty; expected the magic \\x93NUMPY at offset 0 (truncated file?)"
                  : "bad magic at offset 0: not a .npy file (expected \\x93NUMPY)");
  if (size < 8)
    bad("the file is ", size, " bytes, too short for the magic and version at offsets 0 to 7 (truncated file?)");
  const auto major = static_cast<unsigned>(base[6]), minor = static_cast<unsigned>(base[7]);
  if (major < 1 || major > 3 || minor != 0)
    bad("unsupported format version ", major, ".", minor, " at offset 6 (joule reads 1.0, 2.0 and 3.0)");
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t header_start = 8 + length_size;
  if (size < header_start)
    bad("the file is ", size, " bytes, too short for the header length at offset 8 (truncated file?)");
  const std::size_t header_size =
      major == 1 ? detail::load_le<std::uint16_t>(base + 8) : detail::load_le<std::uint32_t>(base + 8);
  if (header_size > size - header_start)
    bad("header length ", header_size, " at offset 8 runs past the end of the file (", size,
        " bytes; truncated file?)");

  npy_array out;
  bool fortran_order = false;
  const std::string_view header(reinterpret_cast<const char*>(base + header_start), header_size);
  detail::npy_header_parser(header, header_start, path).parse(out, fortran_order);
  if (fortran_order)
    bad("fortran_order is True (column-major data), which joule does not read; save a C-order array "
        "(numpy.ascontiguousarray)");

  std::uint64_t count = 1, bytes = 0;
  for (const auto d : out.shape)
    if (!detail::checked_mul(count, static_cast<std::uint64_t>(d), count) ||
        count > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      bad("the element count of shape ", detail::npy_shape_string(out.shape), " overflows int64");
  if (!detail::checked_mul(count, out.item_size, bytes))
    bad("the byte count of shape ", detail::npy_shape_string(out.shape), " overflows");
  const std::size_t data_offset = header_start + header_size;
  const std::size_t available = size - data_offset;
  if (bytes > available)
    bad("shape ", detail::npy_shape_string(out.shape), " of '", out.descr, "' needs ", bytes,
        " data bytes from offset ", data_offset, ", but the file has only ", available, " (truncated file?)");
  if (bytes < available)
    bad(available - bytes, " unexpected bytes after the data, at offset ", data_offset + bytes, " (shape ",
        detail::npy_shape_string(out.shape), " of '", out.descr, "' needs ", bytes, ")");
  out.data.assign(base + data_offset, base + data_offset + bytes);
  return out;
}

/**
 * @brief Reads a .npy file of floats as float32: '<f4' as is, '<f8' rounded to nearest, '<f2'
 * exactly. Integer and boolean arrays throw (read integers with read_npy_i64).
 */
inline tensor<float> read_npy_f32(const std::string& path) {
  const npy_array a = read_npy(path);
  if (a.kind == 'i' || a.kind == 'u')
    fail("npy file '", path, "': holds integers ('", a.descr, "'), not floats; read it with read_npy_i64");
  if (a.kind != 'f') fail("npy file '", path, "': holds '", a.descr, "', which read_npy_f32 does not convert");
  detail::check_npy_rank(path, a);
  tensor<float> out(detail::npy_joule_shape(a));
  const std::byte* src = a.data.data();
  for (std::int64_t k = 0; k < out.numel(); ++k) {
    if (a.item_size == 4)
      out[k] = detail::load_le<float>(src + 4 * k);
    else if (a.item_size == 8)
      out[k] = static_cast<float>(detail::load_le<double>(src + 8 * k));
    else
      out[k] = detail::f16_to_f32(detail::load_le<std::uint16_t>(src + 2 * k));
  }
  return out;
}

/**
 * @brief Reads a .npy file of integers as int64: '<i8' as is; narrower signed and unsigned
 * integers ('<i4', '<u2', '|u1', ...) widened. Floats, booleans and '<u8' (which may not fit) throw.
 */
inline tensor<std::int64_t> read_npy_i64(const std::string& path) {
  const npy_array a = read_npy(path);
  if (a.kind == 'f')
    fail("npy file '", path, "': holds floating-point values ('", a.descr,
         "'), not integers; read it with read_npy_f32");
  if (a.kind == 'u' && a.item_size == 8)
    fail("npy file '", path, "': holds uint64 ('", a.descr, "'), whose values may not fit in int64");
  if (a.kind != 'i' && a.kind != 'u')
    fail("npy file '", path, "': holds '", a.descr, "', which read_npy_i64 does not convert");
  detail::check_npy_rank(path, a);
  tensor<std::int64_t> out(detail::npy_joule_shape(a));
  const std::byte* p = a.data.data();
  const bool is_signed = a.kind == 'i';
  for (std::int64_t k = 0; k < out.numel(); ++k, p += a.item_size) {
    switch (a.item_size) {
      case 1:
        out[k] = detail::load_int<std::int8_t, std::uint8_t>(p, is_signed);
        break;
      case 2:
        out[k] = detail::load_int<std::int16_t, std::uint16_t>(p, is_signed);
        break;
      case 4:
        out[k] = detail::load_int<std::int32_t, std::uint32_t>(p, is_signed);
        break;
      default:
        out[k] = detail::load_le<std::int64_t>(p);
        break;
    }
  }
  return out;
}

/**
 * @brief Writes @p values as a version 1.0 '<f4' .npy file, atomically (a temporary file renamed
 * into place), with the header padded to 64 bytes as NumPy writes it.
 */
inline void write_npy(const std::string& path, tensor_view<const float> values) {
  detail::write_npy_impl<float>(path, "<f4", values);
}

/** @brief Writes @p values as a version 1.0 '<i8' .npy file, atomically. */
inline void write_npy(const std::string& path, tensor_view<const std::int64_t> values) {
  detail::write_npy_impl<std::int64_t>(path, "<i8", values);
}

}  // namespace joule::io

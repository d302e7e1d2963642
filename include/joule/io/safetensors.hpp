#pragma once
/**
 * @file safetensors.hpp
 * @brief Reading and writing safetensors files: memory-mapped, checked before any byte is used.
 *
 * Format (Hugging Face safetensors): an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON
 * header, then the data buffer. The header is an object mapping each tensor name to
 * {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} (offsets relative to the start of
 * the data buffer), plus an optional "__metadata__" object of string to string. The header starts
 * with '{' and may be padded at the end with spaces; it may not exceed 100 MB.
 *
 * A file is treated as hostile. safetensors_file's constructor checks the whole header before any
 * tensor byte is read: the header length against the file, the JSON (duplicate keys included),
 * every entry's dtype, shape and offsets (with overflow checks), and that the tensors cover the
 * data buffer exactly, with no hole and no overlap. Every failure is a joule::error that names the
 * file and the offset or key involved; no input makes a reader touch memory outside the file.
 */
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <joule/core/error.hpp>
#include <joule/core/shape.hpp>
#include <joule/core/tensor.hpp>
#include <joule/io/detail/atomic_file.hpp>
#include <joule/io/detail/bytes.hpp>
#include <joule/io/detail/half.hpp>
#include <joule/io/detail/mapped_file.hpp>

namespace joule::io {

/** @brief The largest header joule reads, in bytes: the limit of the reference implementation. */
inline constexpr std::uint64_t kSafetensorsMaxHeader = 100'000'000;
/**
 * @brief The deepest JSON nesting joule accepts in a header. A valid header nests three levels
 * (header, entry, shape); the limit stops a hostile header from nesting millions of levels, which
 * would exhaust memory in the parser and the stack in anything recursive afterwards.
 */
inline constexpr int kSafetensorsMaxDepth = 16;

/** @brief What the header says about one tensor, after checking. */
struct safetensors_info {
  std::string dtype;                ///< as spelled in the file: "F32", "BF16", "I64", ...
  std::size_t dtype_size = 0;       ///< bytes per element
  std::vector<std::int64_t> shape;  ///< any rank; loading as a joule tensor needs rank <= kMaxRank
  std::int64_t numel = 0;           ///< element count (1 for rank 0)
  std::uint64_t begin = 0;          ///< data_offsets[0], relative to the data buffer
  std::uint64_t end = 0;            ///< data_offsets[1], relative to the data buffer
  std::uint64_t file_offset = 0;    ///< absolute file offset of the first byte
  std::uint64_t byte_size() const noexcept { return end - begin; }
};

namespace detail {

struct safetensors_dtype {
  const char* name;
  std::size_t size;
};

// Every whole-byte dtype of the format. Sub-byte types (F4, F6_*) are not supported.
inline constexpr safetensors_dtype kSafetensorsDtypes[] = {
    {"BOOL", 1}, {"U8", 1},   {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1}, {"I16", 2}, {"U16", 2},
    {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},     {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8},
};

inline std::size_t safetensors_dtype_size(const std::string& dtype) noexcept {
  for (const auto& d : kSafetensorsDtypes)
    if (dtype == d.name) return d.size;
  return 0;
}

inline bool safetensors_is_float(const std::string& dtype) noexcept {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16";
}

inline std::string shape_string(std::span<const std::int64_t> dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// The JSON text of a header value for an error message, cut short if long.
inline std::string json_excerpt(const nlohmann::json& value) {
  std::string s = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

}  // namespace detail

/**
 * @brief A safetensors file, memory-mapped read-only and fully checked on open; move-only.
 *
 * Views returned by view_f32() point into the mapping and stay valid while this object (or the
 * object it was moved into) lives.
 */
class safetensors_file {
 public:
  safetensors_file() = default;
  /** @brief Maps and checks @p path; throws joule::error naming the file and the offset or key. */
  explicit safetensors_file(std::string path) : path_(std::move(path)), map_(path_, "safetensors") { parse(); }
  /** @brief Same as the constructor. */
  static safetensors_file open(const std::string& path) { return safetensors_file(path); }

  const std::string& path() const noexcept { return path_; }
  /** @brief Tensor names in sorted order. */
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& [name, info] : tensors_) out.push_back(name);
    return out;
  }
  std::size_t size() const noexcept { return tensors_.size(); }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  /** @brief The checked header entry of @p name; throws listing a few names when it is absent. */
  const safetensors_info& info(const std::string& name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) fail_unknown(name);
    return it->second;
  }
  /** @brief The "__metadata__" object (empty when the file has none). */
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  /** @brief The raw little-endian bytes of @p name, inside the mapping. */
  std::span<const std::byte> bytes(const std::string& name) const {
    const auto& i = info(name);
    return {data_ + i.begin, static_cast<std::size_t>(i.byte_size())};
  }

  /** @brief A float32 copy of @p name, converting F16 and BF16 exactly; other dtypes throw. */
  tensor<float> load_f32(const std::string& name) const {
    const auto& i = info(name);
    if (!detail::safetensors_is_float(i.dtype))
      bad("tensor \"", name, "\" has dtype ", i.dtype, ", which cannot be read as float32 (F32, F16 and BF16 can)");
    tensor<float> out(joule_shape(name, i));
    const std::byte* src = data_ + i.begin;
    float* dst = out.data();
    const auto n = static_cast<std::size_t>(i.numel);
    if (i.dtype == "F32") {
      if constexpr (std::endian::native == std::endian::little) {
        if (n) std::memcpy(dst, src, n * sizeof(float));
      } else {
        for (std::size_t k = 0; k < n; ++k) dst[k] = detail::load_le<float>(src + 4 * k);
      }
    } else if (i.dtype == "F16") {
      for (std::size_t k = 0; k < n; ++k) dst[k] = detail::f16_to_f32(detail::load_le<std::uint16_t>(src + 2 * k));
    } else {
      for (std::size_t k = 0; k < n; ++k) dst[k] = detail::bf16_to_f32(detail::load_le<std::uint16_t>(src + 2 * k));
    }
    return out;
  }

  /**
   * @brief A zero-copy view of @p name: needs F32 data at a 4-byte aligned file offset (files
   * written by save_safetensors always qualify) on a little-endian host; otherwise throws,
   * pointing to load_f32.
   */
  tensor_view<const float> view_f32(const std::string& name) const {
    const auto& i = info(name);
    if (i.dtype != "F32")
      bad("tensor \"", name, "\" has dtype ", i.dtype,
          "; view_f32 gives zero-copy views of F32 data only, use load_f32 to convert");
    if constexpr (std::endian::native != std::endian::little)
      bad("tensor \"", name, "\": zero-copy views need a little-endian host; use load_f32");
    if (i.numel == 0) return {nullptr, joule_shape(name, i)};
    const std::byte* p = data_ + i.begin;
    if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) != 0)
      bad("tensor \"", name, "\" starts at file offset ", i.file_offset,
          ", which is not 4-byte aligned, so it cannot be viewed in place; use load_f32 (it copies)");
    return {reinterpret_cast<const float*>(p), joule_shape(name, i)};
  }

 private:
  template <class... Parts>
  [[noreturn]] void bad(Parts&&... parts) const {
    fail("safetensors file '", path_, "': ", std::forward<Parts>(parts)...);
  }

  [[noreturn]] void fail_unknown(const std::string& name) const {
    std::string known;
    int listed = 0;
    for (const auto& [n, info] : tensors_) {
      if (listed == 5) {
        known += ", ...";
        break;
      }
      known += (listed++ ? ", \"" : "\"") + n + "\"";
    }
    bad("no tensor named \"", name, "\"; the file has ", tensors_.size(), " tensor(s)",
        tensors_.empty() ? std::string() : ": " + known);
  }

  joule::shape joule_shape(const std::string& name, const safetensors_info& i) const {
    if (i.shape.size() > static_cast<std::size_t>(kMaxRank))
      bad("tensor \"", name, "\" has rank ", i.shape.size(), " (shape ", detail::shape_string(i.shape),
          "), above joule's maximum rank ", kMaxRank);
    return joule::shape(std::span<const std::int64_t>(i.shape));
  }

  void parse() {
    const std::byte* base = map_.data();
    const std::uint64_t file_size = map_.size();
    if (file_size < 8)
      bad("the file is ", file_size, " bytes, too short for the 8-byte header length at offset 0 (truncated file?)");
    const auto header_size = detail::load_le<std::uint64_t>(base);
    if (header_size > kSafetensorsMaxHeader)
      bad("header length ", header_size, " at offset 0 exceeds the limit of ", kSafetensorsMaxHeader, " bytes");
    if (header_size > file_size - 8)
      bad("header length ", header_size, " at offset 0 runs past the end of the file (", file_size,
          " bytes, so at most ", file_size - 8, " header bytes; truncated file?)");
    const char* header = reinterpret_cast<const char*>(base + 8);
    if (header_size == 0 || header[0] != '{')
      bad("the header at offset 8 is not a JSON object: it must start with '{'",
          header_size == 0
              ? std::string(" but is empty")
              : std::string(" but starts with byte ") + std::to_string(static_cast<unsigned char>(header[0])));
    data_ = base + 8 + header_size;
    data_size_ = file_size - 8 - header_size;

    const nlohmann::json root = parse_json(header, static_cast<std::size_t>(header_size));
    if (!root.is_object()) bad("the header at offset 8 is not a JSON object");
    for (const auto& [name, value] : root.items()) {
      if (name == "__metadata__") {
        parse_metadata(value);
      } else {
        tensors_.emplace(name, parse_entry(name, value));
      }
    }
    check_coverage();
  }

  // Parses the header, rejecting duplicate keys (nlohmann keeps the last one silently), which the
  // parser callback sees as key events; each object on the way gets its own set of keys. The
  // callback also bounds the nesting depth, throwing out of the parser as soon as it is exceeded.
  nlohmann::json parse_json(const char* header, std::size_t size) const {
    std::vector<std::set<std::string>> open_objects;
    std::string entry, duplicate;
    bool duplicate_at_top = false;
    int depth = 0;
    const auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      using ev = nlohmann::json::parse_event_t;
      if (event == ev::object_start || event == ev::array_start) {
        if (++depth > kSafetensorsMaxDepth)
          bad("the header nests JSON deeper than ", kSafetensorsMaxDepth, " levels",
              entry.empty() ? std::string() : " (inside the entry \"" + entry + "\")");
        if (event == ev::object_start) open_objects.emplace_back();
      } else if (event == ev::object_end || event == ev::array_end) {
        --depth;
        if (event == ev::object_end) open_objects.pop_back();
      } else if (event == ev::key && !open_objects.empty()) {
        const auto& key = parsed.get_ref<const std::string&>();
        if (open_objects.size() == 1) entry = key;
        if (!open_objects.back().insert(key).second && duplicate.empty()) {
          duplicate = key;
          duplicate_at_top = open_objects.size() == 1;
        }
      }
      return true;
    };
    nlohmann::json root;
    try {
      root = nlohmann::json::parse(header, header + size, callback);
    } catch (const nlohmann::json::parse_error& e) {
      // e.byte counts from 1 at the header's first byte; past size means the header ended first.
      if (e.byte > size)
        bad("invalid JSON in the header: its ", size, " bytes (file offsets 8 to ", 8 + size,
            ") end before the JSON value does (a truncated header, or a wrong header length?): ", e.what());
      bad("invalid JSON in the header at file offset ", 8 + (e.byte > 0 ? e.byte - 1 : 0), " (header byte ", e.byte,
          " of ", size, "): ", e.what());
    } catch (const nlohmann::json::exception& e) {
      // Not a syntax error but a value nlohmann cannot hold, e.g. a number past double's range
      // (out_of_range 406, found by the fuzzer): it carries no byte position.
      bad("invalid JSON in the header: ", e.what());
    }
    if (!duplicate.empty()) {
      if (duplicate_at_top) bad("the header has the key \"", duplicate, "\" twice (duplicate tensor name)");
      bad("the header has the key \"", duplicate, "\" twice inside the entry \"", entry, "\"");
    }
    return root;
  }

  void parse_metadata(const nlohmann::json& value) {
    if (!value.is_object()) bad("\"__metadata__\" must be an object of strings, got ", detail::json_excerpt(value));
    for (const auto& [key, v] : value.items()) {
      if (!v.is_string())
        bad("\"__metadata__\" key \"", key, "\" must have a string value, got ", detail::json_excerpt(v));
      metadata_.emplace(key, v.get<std::string>());
    }
  }

  // A non-negative JSON integer no larger than @p limit. nlohmann stores integers without a sign
  // as unsigned, those with a '-' as signed (so -0 is a signed 0), and anything else (2.0, 1e30,
  // integers beyond uint64) as a float, which is never a count.
  static bool as_count(const nlohmann::json& v, std::uint64_t limit, std::uint64_t& out) {
    if (v.is_number_unsigned()) {
      out = v.get<std::uint64_t>();
    } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
      out = static_cast<std::uint64_t>(v.get<std::int64_t>());
    } else {
      return false;
    }
    return out <= limit;
  }

  safetensors_info parse_entry(const std::string& name, const nlohmann::json& value) const {
    if (!value.is_object())
      bad("the entry \"", name,
          "\" is not an object with dtype, shape and data_offsets: ", detail::json_excerpt(value));
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!value.contains(key)) bad("tensor \"", name, "\" has no \"", key, "\"");

    safetensors_info info;
    const auto& dtype = value["dtype"];
    if (!dtype.is_string()) bad("tensor \"", name, "\": \"dtype\" must be a string, got ", detail::json_excerpt(dtype));
    info.dtype = dtype.get<std::string>();
    info.dtype_size = detail::safetensors_dtype_size(info.dtype);
    if (info.dtype_size == 0) bad("tensor \"", name, "\" has unknown or unsupported dtype \"", info.dtype, "\"");

    const auto& dims = value["shape"];
    if (!dims.is_array())
      bad("tensor \"", name, "\": \"shape\" must be an array of integers, got ", detail::json_excerpt(dims));
    std::uint64_t numel = 1;
    for (std::size_t d = 0; d < dims.size(); ++d) {
      std::uint64_t dim = 0;
      if (!as_count(dims[d], std::numeric_limits<std::int64_t>::max(), dim)) {
        const char* why = dims[d].is_number_unsigned()  ? "too large"
                          : dims[d].is_number_integer() ? "negative"
                                                        : "not an integer";
        bad("tensor \"", name, "\": shape[", d, "] is ", detail::json_excerpt(dims[d]), " (", why,
            "); dimensions must be non-negative integers");
      }
      info.shape.push_back(static_cast<std::int64_t>(dim));
      if (!detail::checked_mul(numel, dim, numel) || numel > std::numeric_limits<std::int64_t>::max())
        bad("tensor \"", name, "\": the element count of shape ", detail::json_excerpt(dims), " overflows int64");
    }
    info.numel = static_cast<std::int64_t>(numel);
    std::uint64_t expected_bytes = 0;
    if (!detail::checked_mul(numel, info.dtype_size, expected_bytes))
      bad("tensor \"", name, "\": the byte count of shape ", detail::json_excerpt(dims), " in ", info.dtype,
          " overflows uint64");

    const auto& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 ||
        !as_count(offsets[0], std::numeric_limits<std::uint64_t>::max(), info.begin) ||
        !as_count(offsets[1], std::numeric_limits<std::uint64_t>::max(), info.end))
      bad("tensor \"", name, "\": \"data_offsets\" must be two non-negative integers [begin, end], got ",
          detail::json_excerpt(offsets));
    if (info.begin > info.end)
      bad("tensor \"", name, "\": data_offsets [", info.begin, ", ", info.end, "] have begin > end");
    if (info.end > data_size_)
      bad("tensor \"", name, "\": data_offsets [", info.begin, ", ", info.end,
          "] are out of range: the data buffer at file offset ", data_ - map_.data(), " holds only ", data_size_,
          " bytes (truncated file?)");
    if (info.byte_size() != expected_bytes)
      bad("tensor \"", name, "\": dtype ", info.dtype, " and shape ", detail::shape_string(info.shape), " need ",
          expected_bytes, " bytes, but data_offsets [", info.begin, ", ", info.end, "] hold ", info.byte_size(),
          " (dtype/shape/byte-count mismatch)");
    info.file_offset = static_cast<std::uint64_t>(data_ - map_.data()) + info.begin;
    return info;
  }

  // The tensors must tile the data buffer: sorted by offset, each starts where the previous ends,
  // and the last ends at the end of the file. Empty tensors may sit at any boundary.
  void check_coverage() const {
    std::vector<std::pair<const std::string*, const safetensors_info*>> order;
    order.reserve(tensors_.size());
    for (const auto& [name, info] : tensors_) order.emplace_back(&name, &info);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return std::pair(a.second->begin, a.second->end) < std::pair(b.second->begin, b.second->end);
    });
    const auto data_offset = static_cast<std::uint64_t>(data_ - map_.data());
    std::uint64_t covered = 0;
    const std::string* previous = nullptr;
    for (const auto& [name, info] : order) {
      if (info->begin < covered)
        bad("tensor \"", *name, "\" (data_offsets [", info->begin, ", ", info->end, "]) overlaps tensor \"", *previous,
            "\" (data_offsets [", tensors_.at(*previous).begin, ", ", covered, "])");
      if (info->begin > covered)
        bad("data buffer bytes [", covered, ", ", info->begin, ") (file offsets ", data_offset + covered, " to ",
            data_offset + info->begin, ") belong to no tensor: a hole before tensor \"", *name, "\"");
      if (info->end > covered || previous == nullptr) previous = name;
      covered = info->end;
    }
    if (covered != data_size_)
      bad("the last ", data_size_ - covered, " bytes of the data buffer (file offsets ", data_offset + covered, " to ",
          data_offset + data_size_, ") belong to no tensor: a hole at the end of the file");
  }

  std::string path_;
  detail::mapped_file map_;
  const std::byte* data_ = nullptr;
  std::uint64_t data_size_ = 0;
  std::map<std::string, safetensors_info> tensors_;
  std::map<std::string, std::string> metadata_;
};

/** @brief Options of load_safetensors. */
struct safetensors_load_options {
  /**
   * @brief Leave out tensors whose dtype is not F32, F16 or BF16 instead of throwing. Checkpoints
   * carry a few integer buffers (torchvision's BatchNorm num_batches_tracked, I64) no model reads.
   */
  bool skip_non_float = false;
};

/**
 * @brief Every tensor of @p path as float32, by name (sorted, so iteration is deterministic).
 * F16 and BF16 are converted exactly; any other dtype throws naming the tensor, unless
 * @p options.skip_non_float leaves it out.
 */
inline std::map<std::string, tensor<float>> load_safetensors(const std::string& path,
                                                             safetensors_load_options options = {}) {
  const safetensors_file file(path);
  std::map<std::string, tensor<float>> out;
  for (const auto& name : file.names()) {
    const auto& dtype = file.info(name).dtype;
    if (!detail::safetensors_is_float(dtype)) {
      if (options.skip_non_float) continue;
      fail("safetensors file '", path, "': tensor \"", name, "\" has dtype ", dtype,
           ", which cannot be read as float32 (F32, F16 and BF16 can); pass {.skip_non_float = true} to leave such "
           "tensors out");
    }
    out.emplace(name, file.load_f32(name));
  }
  return out;
}

/**
 * @brief Writes @p tensors as F32 safetensors to @p path, atomically (a temporary file renamed
 * into place). The header is padded with spaces so the data starts at an 8-byte aligned offset,
 * which makes every tensor viewable in place by safetensors_file::view_f32.
 */
inline void save_safetensors(const std::string& path, const std::map<std::string, tensor<float>>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  nlohmann::json header = nlohmann::json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    require(name != "__metadata__", "safetensors file '", path,
            "': \"__metadata__\" is reserved and cannot name a tensor");
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * sizeof(float);
    std::vector<std::int64_t> dims(t.shape().dims().begin(), t.shape().dims().end());
    header[name] = {
        {"dtype", "F32"}, {"shape", dims}, {"data_offsets", nlohmann::json::array({offset, offset + bytes})}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::type_error& e) {
    fail("safetensors file '", path, "': a tensor name or metadata string is not valid UTF-8: ", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  require(text.size() <= kSafetensorsMaxHeader, "safetensors file '", path, "': the header would be ", text.size(),
          " bytes, above the limit of ", kSafetensorsMaxHeader);

  detail::atomic_file file(path, "safetensors");
  std::byte length[8];
  detail::store_le<std::uint64_t>(length, text.size());
  file.write(length, sizeof length);
  file.write(text.data(), text.size());
  for (const auto& [name, t] : tensors) {
    if constexpr (std::endian::native == std::endian::little) {
      file.write(t.data(), static_cast<std::size_t>(t.numel()) * sizeof(float));
    } else {
      std::vector<std::byte> le(static_cast<std::size_t>(t.numel()) * sizeof(float));
      for (std::int64_t k = 0; k < t.numel(); ++k) detail::store_le(le.data() + 4 * k, t[k]);
      file.write(le.data(), le.size());
    }
  }
  file.commit();
}

}  // namespace joule::io

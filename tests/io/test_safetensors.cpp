// joule::io safetensors reader and writer.
//
// Error bound: zero. Nothing here rounds: F32 round trips copy bits and F16/BF16 widening is
// exact, so every value is compared by bit pattern (NaN payloads and the sign of zero included).
//
// Covered: save/load round trips of rank 0..5 tensors, empty ones ([0], [2, 0, 3]) and special
// values, with metadata; the writer's layout (8-byte aligned data, space padding, sorted names,
// contiguous offsets), atomic replacement with no temporary left behind; zero-copy views (and
// their refusal for F16 data and for F32 data at an offset that is not 4-byte aligned); F16 and
// BF16 conversion against hand-computed bit patterns (zeros, normals, the largest F16, the
// smallest normal, subnormals, infinities, quiet and signalling NaNs), plus all 65536 F16 patterns
// against a double-precision formula; the golden file tests/data/io/mixed.safetensors.
//
// Bad input tested, each for a message naming the file and the offset or key: a file shorter
// than 8 bytes; a header length past the end of the file; an absurd header length (> 100 MB, and
// 2^64 - 1); an empty header; invalid JSON (with its file offset); invalid UTF-8; a header that is
// not an object; an entry that is not an object; an entry missing dtype, shape or data_offsets;
// an unknown dtype; negative, fractional, string and too-large dimensions; a shape whose element
// count overflows; data_offsets that are not two non-negative integers; begin > end; a byte count
// that disagrees with dtype and shape; offsets past the end of the data buffer; overlapping
// tensors; holes between, before and after the tensors; duplicate tensor names and duplicate keys
// inside an entry; JSON nested past 16 levels (a million open brackets must fail fast, not
// exhaust the stack); __metadata__ that is not an object of strings; a non-float dtype read as float;
// an unknown tensor name; rank above 5; a missing file and a directory; a reserved or non-UTF-8
// name given to the writer, and a writer target in a missing directory. Every truncation of a
// valid file and single-byte corruptions of it must give a joule::error, never a crash.
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>

#include <joule/io/safetensors.hpp>

#include "../common/testing.hpp"
#include "io_testing.hpp"

namespace {

using joule::shape;
using joule::tensor;
using joule_test::io::bits;
using joule_test::io::expect_error;
using joule_test::io::expect_file_error;
using joule_test::io::f32_bytes;
using joule_test::io::le16;
using joule_test::io::le64;
using joule_test::io::read_bytes;
namespace jio = joule::io;

/** The bytes of a safetensors file with @p header (taken as is) and @p data. */
std::string st_bytes(std::string_view header, std::string_view data = "") {
  return le64(header.size()) + std::string(header) + std::string(data);
}

/** One header entry, "name": {...}. */
std::string entry(const std::string& name, const std::string& dtype, const std::string& dims, std::uint64_t begin,
                  std::uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" + dims + "],\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

std::string golden_dir() {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "io").string();
}

void expect_same_bits(const tensor<float>& actual, const tensor<float>& expected, const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  for (std::int64_t i = 0; i < expected.numel(); ++i)
    ASSERT_EQ(bits(actual[i]), bits(expected[i])) << what << " element " << i;
}

class safetensors_io : public joule_test::io::temp_dir_test {};

TEST_F(safetensors_io, round_trip_ranks_0_to_5_empty_and_special_values) {
  auto rng = joule_test::rng_for_test();
  std::map<std::string, tensor<float>> tensors;
  const shape shapes[] = {{}, {7}, {2, 3}, {2, 0, 3}, {0}, {1, 2, 3, 4}, {2, 1, 3, 1, 2}, {3, 5}};
  for (std::size_t i = 0; i < std::size(shapes); ++i)
    tensors.emplace("layer." + std::to_string(i) + ".weight", joule_test::random_tensor(rng, shapes[i], -3.f, 3.f));
  auto& special = tensors.at("layer.7.weight");
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),  -0.f,
                            std::numeric_limits<float>::infinity(),   -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::max(),
                            std::bit_cast<float>(0x7FA00001u)};
  std::copy(std::begin(specials), std::end(specials), special.data());
  const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "joule \"test\" ü"}};

  const std::string p = path("model.safetensors");
  jio::save_safetensors(p, tensors, metadata);
  EXPECT_EQ(listing(), std::vector<std::string>{"model.safetensors"}) << "a temporary file was left behind";

  const auto loaded = jio::load_safetensors(p);
  ASSERT_EQ(loaded.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(loaded.count(name)) << name;
    expect_same_bits(loaded.at(name), t, name);
  }

  const jio::safetensors_file file(p);
  EXPECT_EQ(file.metadata(), metadata);
  std::vector<std::string> names;
  for (const auto& [name, t] : tensors) names.push_back(name);
  EXPECT_EQ(file.names(), names);
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const auto& info = file.info(name);
    EXPECT_EQ(info.dtype, "F32");
    EXPECT_EQ(info.dtype_size, 4u);
    EXPECT_EQ(info.numel, t.numel());
    EXPECT_EQ(std::vector<std::int64_t>(t.shape().dims().begin(), t.shape().dims().end()), info.shape);
    EXPECT_EQ(info.begin, offset) << "tensors are written contiguously in name order";
    offset = info.end;
    const auto view = file.view_f32(name);
    EXPECT_EQ(view.shape(), t.shape());
    for (std::int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(bits(view[i]), bits(t[i])) << name;
  }

  // Layout: the header is padded with spaces so the data starts 8-byte aligned.
  const std::string bytes = read_bytes(p);
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  EXPECT_EQ((8 + header_size) % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + header_size + offset);
  EXPECT_EQ(bytes[8], '{');
  const auto last = bytes.find_last_not_of(' ', 8 + header_size - 1);
  EXPECT_EQ(bytes[last], '}');
}

TEST_F(safetensors_io, empty_map_and_atomic_replacement) {
  const std::string p = path("empty.safetensors");
  jio::save_safetensors(p, {});
  EXPECT_TRUE(jio::load_safetensors(p).empty());
  EXPECT_EQ(jio::safetensors_file(p).size(), 0u);

  // Saving over an existing file replaces it whole, leaving no temporary.
  std::map<std::string, tensor<float>> one;
  one.emplace("x", tensor<float>(shape{2}, {1.f, 2.f}));
  jio::save_safetensors(p, one);
  EXPECT_EQ(jio::load_safetensors(p).at("x")[1], 2.f);
  EXPECT_EQ(listing(), std::vector<std::string>{"empty.safetensors"});

  const std::string missing = path("no/such/dir/x.safetensors");
  expect_error([&] { jio::save_safetensors(missing, one); }, {missing, "cannot create"}, "missing directory");
}

TEST_F(safetensors_io, writer_rejects_bad_names) {
  std::map<std::string, tensor<float>> reserved;
  reserved.emplace("__metadata__", tensor<float>(shape{1}));
  const std::string p = path("bad.safetensors");
  expect_error([&] { jio::save_safetensors(p, reserved); }, {p, "__metadata__", "reserved"}, "reserved name");
  std::map<std::string, tensor<float>> not_utf8;
  not_utf8.emplace("bad\xff", tensor<float>(shape{1}));
  expect_error([&] { jio::save_safetensors(p, not_utf8); }, {p, "UTF-8"}, "invalid UTF-8 name");
  EXPECT_TRUE(listing().empty()) << "a failed save must leave nothing behind";
}

TEST(safetensors_half, f16_hand_computed_bit_patterns) {
  const std::pair<std::uint16_t, std::uint32_t> cases[] = {
      {0x0000, 0x00000000},  // +0
      {0x8000, 0x80000000},  // -0
      {0x3C00, 0x3F800000},  // 1
      {0xC000, 0xC0000000},  // -2
      {0x3555, 0x3EAAA000},  // 0.333251953125: exponent 13 - 15 + 127 = 125, mantissa 0x155 << 13
      {0x7BFF, 0x477FE000},  // 65504, the largest F16
      {0x0400, 0x38800000},  // 2^-14, the smallest normal
      {0x0200, 0x38000000},  // 2^-15, subnormal
      {0x03FF, 0x387FC000},  // 1023 · 2^-24, the largest subnormal
      {0x0001, 0x33800000},  // 2^-24, the smallest subnormal
      {0x8001, 0xB3800000},  // -2^-24
      {0x7C00, 0x7F800000},  // +inf
      {0xFC00, 0xFF800000},  // -inf
      {0x7E00, 0x7FC00000},  // quiet NaN
      {0xFE00, 0xFFC00000},  // negative quiet NaN
      {0x7C01, 0x7F802000},  // signalling NaN, payload 1 kept
  };
  for (const auto& [h, f] : cases) EXPECT_EQ(bits(jio::detail::f16_to_f32(h)), f) << std::hex << "F16 0x" << h;
}

TEST(safetensors_half, f16_all_patterns_match_the_formula) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const int sign = (h >> 15) ? -1 : 1, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    const float got = jio::detail::f16_to_f32(static_cast<std::uint16_t>(h));
    if (exponent == 31 && mantissa != 0) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << h;
      ASSERT_EQ(std::signbit(got), sign < 0) << std::hex << h;
      continue;
    }
    const double want = exponent == 31  ? sign * std::numeric_limits<double>::infinity()
                        : exponent == 0 ? sign * std::ldexp(mantissa, -24)
                                        : sign * std::ldexp(1024 + mantissa, exponent - 25);
    ASSERT_EQ(static_cast<double>(got), want) << std::hex << h;
    ASSERT_EQ(std::signbit(got), sign < 0) << std::hex << h;
  }
}

TEST(safetensors_half, bf16_hand_computed_bit_patterns) {
  const std::pair<std::uint16_t, std::uint32_t> cases[] = {
      {0x0000, 0x00000000}, {0x8000, 0x80000000},  // ±0
      {0x3F80, 0x3F800000},                        // 1
      {0x4049, 0x40490000},                        // 3.140625
      {0x0080, 0x00800000},                        // 2^-126, the smallest normal
      {0x0001, 0x00010000},                        // 2^-133, the smallest subnormal
      {0x7F7F, 0x7F7F0000},                        // the largest finite BF16
      {0x7F80, 0x7F800000}, {0xFF80, 0xFF800000},  // ±inf
      {0x7FC0, 0x7FC00000},                        // quiet NaN
      {0x7F81, 0x7F810000},                        // signalling NaN, payload kept
  };
  for (const auto& [b, f] : cases) EXPECT_EQ(bits(jio::detail::bf16_to_f32(b)), f) << std::hex << "BF16 0x" << b;
}

TEST_F(safetensors_io, f16_and_bf16_files_load_as_float32) {
  std::string f16_data, bf16_data;
  for (const std::uint16_t h : {0x3C00, 0x0001, 0x03FF, 0xFC00, 0x7E00, 0x8000}) f16_data += le16(h);
  for (const std::uint16_t b : {0x3F80, 0x0001, 0xFF80, 0x7FC0}) bf16_data += le16(b);
  const std::string header = "{" + entry("h", "F16", "2,3", 0, 12) + "," + entry("b", "BF16", "4", 12, 20) + "}";
  const std::string p = write("half.safetensors", st_bytes(header, f16_data + bf16_data));

  const jio::safetensors_file file(p);
  const auto h = file.load_f32("h");
  EXPECT_EQ(h.shape(), (shape{2, 3}));
  const std::uint32_t want_h[] = {0x3F800000, 0x33800000, 0x387FC000, 0xFF800000, 0x7FC00000, 0x80000000};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bits(h[i]), want_h[i]) << "F16 element " << i;
  const auto b = file.load_f32("b");
  const std::uint32_t want_b[] = {0x3F800000, 0x00010000, 0xFF800000, 0x7FC00000};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bits(b[i]), want_b[i]) << "BF16 element " << i;

  expect_error([&] { (void)file.view_f32("h"); }, {p, "\"h\"", "F16", "load_f32"}, "view of F16");
  EXPECT_EQ(jio::load_safetensors(p).size(), 2u);
}

TEST_F(safetensors_io, view_needs_aligned_f32_data) {
  // Padding the header so the data starts at a file offset of 1 mod 4, where no float may start.
  const std::string header = "{" + entry("w", "F32", "2", 0, 8) + "}";
  std::string padded = header;
  while ((8 + padded.size()) % 4 != 1) padded += ' ';
  const std::string p = write("odd.safetensors", st_bytes(padded, f32_bytes(1.5f) + f32_bytes(-2.f)));
  const jio::safetensors_file file(p);
  const auto offset = std::to_string(8 + padded.size());
  expect_error([&] { (void)file.view_f32("w"); },
               {p, "\"w\"", "file offset " + offset, "not 4-byte aligned", "load_f32"}, "misaligned view");
  const auto w = file.load_f32("w");
  EXPECT_EQ(w[0], 1.5f);
  EXPECT_EQ(w[1], -2.f);
}

TEST_F(safetensors_io, golden_file) {
  const std::string p = golden_dir() + "/mixed.safetensors";
  const jio::safetensors_file file(p);
  EXPECT_EQ(file.names(), (std::vector<std::string>{"b", "h", "n", "w", "z"}));
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.info("w").file_offset, 320u);
  EXPECT_EQ(file.info("n").dtype, "I64");
  EXPECT_TRUE(file.info("n").shape.empty());
  EXPECT_EQ(file.info("n").numel, 1);

  const auto w = file.view_f32("w");
  EXPECT_EQ(w.shape(), (shape{2, 1}));
  EXPECT_EQ(w[0], 1.5f);
  EXPECT_EQ(w[1], -2.f);
  EXPECT_EQ(file.load_f32("z").shape(), (shape{0, 3}));
  EXPECT_EQ(file.view_f32("z").shape(), (shape{0, 3})) << "an empty tensor needs no alignment";

  expect_error([&] { (void)jio::load_safetensors(p); }, {p, "\"n\"", "I64", "float32", "skip_non_float"},
               "non-float in load_safetensors");
  const auto all = jio::load_safetensors(p, {.skip_non_float = true});
  EXPECT_EQ(all.size(), 4u);
  EXPECT_EQ(bits(all.at("b")[1]), 0xFF800000u);
  EXPECT_EQ(bits(all.at("h")[1]), 0x33800000u);
  EXPECT_TRUE(std::isnan(all.at("h")[2]));
}

TEST_F(safetensors_io, name_dtype_and_rank_errors) {
  const std::string header = "{" + entry("a", "F32", "1", 0, 4) + "," + entry("ids", "I64", "1", 4, 12) + "," +
                             entry("big", "F32", "1,1,1,1,1,1", 12, 16) + "}";
  const std::string p = write("m.safetensors", st_bytes(header, std::string(16, '\0')));
  const jio::safetensors_file file(p);
  expect_error([&] { (void)file.info("missing"); }, {p, "no tensor named \"missing\"", "\"a\"", "\"ids\""},
               "unknown name");
  expect_error([&] { (void)file.load_f32("missing"); }, {p, "\"missing\""}, "unknown name in load_f32");
  expect_error([&] { (void)file.load_f32("ids"); }, {p, "\"ids\"", "dtype I64", "float32"}, "integer as float");
  expect_error([&] { (void)file.view_f32("ids"); }, {p, "\"ids\"", "I64"}, "integer as view");
  expect_error([&] { (void)file.load_f32("big"); }, {p, "\"big\"", "rank 6"}, "rank above 5");
  EXPECT_EQ(file.info("big").shape.size(), 6u);
  EXPECT_EQ(file.bytes("ids").size(), 8u);
}

TEST_F(safetensors_io, missing_file_and_directory) {
  const std::string missing = path("nope.safetensors");
  expect_error([&] { jio::safetensors_file f(missing); }, {missing, "cannot open"}, "missing file");
  expect_error([&] { jio::safetensors_file f(dir_.string()); }, {dir_.string(), "not a regular file"}, "directory");
}

/** A malformed file: its bytes and the fragments its error message must contain (besides the path). */
struct malformed {
  const char* what;
  std::string bytes;
  std::vector<std::string> fragments;
};

std::vector<malformed> malformed_files() {
  const std::string four = std::string(4, '\0'), eight = std::string(8, '\0'), twelve = std::string(12, '\0');
  const auto one = [](const std::string& e) { return "{" + e + "}"; };
  return {
      {"shorter than 8 bytes", std::string("\x10\0\0\0\0", 5), {"5 bytes", "offset 0", "truncated"}},
      {"empty file", "", {"0 bytes", "offset 0"}},
      {"header length past the end", le64(100) + "{}", {"header length 100", "offset 0", "past the end"}},
      {"absurd header length", le64(200'000'000) + "{}", {"header length 200000000", "offset 0", "limit"}},
      {"header length 2^64 - 1", le64(~std::uint64_t{0}) + "{}", {"header length 18446744073709551615", "limit"}},
      {"empty header", st_bytes(""), {"offset 8", "empty"}},
      {"invalid JSON", st_bytes("{\"a\": }"), {"invalid JSON", "file offset 14"}},
      {"JSON cut short",
       st_bytes("{\"a\": {\"dtype\""),
       {"invalid JSON", "its 14 bytes (file offsets 8 to 22) end before the JSON value does"}},
      {"invalid UTF-8", st_bytes("{\"a\xff\": 1}"), {"invalid JSON", "file offset 11"}},
      {"number past double's range (fuzzer finding)",
       st_bytes("{\"w\": {\"dtype\": \"F32\", \"shape\": [1e999], \"data_offsets\": [0, 4]}}"),
       {"invalid JSON", "number overflow"}},
      {"header is an array", st_bytes("[1, 2]"), {"offset 8", "not a JSON object"}},
      {"header with leading space", st_bytes(" {}"), {"offset 8", "not a JSON object"}},
      {"entry not an object", st_bytes("{\"a\": 3}"), {"entry \"a\"", "not an object"}},
      {"deep nesting",
       st_bytes("{\"a\": " + std::string(100, '[') + std::string(100, ']') + "}"),
       {"deeper than 16 levels", "entry \"a\""}},
      {"a million open brackets",
       st_bytes("{\"a\": {\"shape\": " + std::string(1'000'000, '[')),
       {"deeper than 16 levels", "entry \"a\""}},
      {"no dtype", st_bytes(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", four), {"\"a\"", "no \"dtype\""}},
      {"no shape", st_bytes(R"({"a": {"dtype": "F32", "data_offsets": [0, 4]}})", four), {"\"a\"", "no \"shape\""}},
      {"no data_offsets", st_bytes(R"({"a": {"dtype": "F32", "shape": [1]}})", four), {"\"a\"", "no \"data_offsets\""}},
      {"dtype not a string",
       st_bytes(R"({"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})", four),
       {"\"a\"", "\"dtype\" must be a string"}},
      {"unknown dtype", st_bytes(one(entry("a", "F17", "1", 0, 4)), four), {"\"a\"", "unknown", "\"F17\""}},
      {"shape not an array",
       st_bytes(R"({"a": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})", four),
       {"\"a\"", "\"shape\" must be an array"}},
      {"negative dim", st_bytes(one(entry("a", "F32", "2,-1", 0, 4)), four), {"\"a\"", "shape[1]", "negative"}},
      {"fractional dim", st_bytes(one(entry("a", "F32", "2.5", 0, 4)), four), {"\"a\"", "shape[0]", "not an integer"}},
      {"string dim", st_bytes(one(entry("a", "F32", "\"1\"", 0, 4)), four), {"\"a\"", "shape[0]", "not an integer"}},
      {"dim above int64",
       st_bytes(one(entry("a", "F32", "9223372036854775808", 0, 4)), four),
       {"\"a\"", "shape[0]", "too large"}},
      {"element count overflow",
       st_bytes(one(entry("a", "F32", "4294967296,4294967296", 0, 4)), four),
       {"\"a\"", "element count", "overflows"}},
      {"byte count overflow",
       st_bytes(one(entry("a", "F64", "4611686018427387904", 0, 4)), four),
       {"\"a\"", "byte count", "overflows"}},
      {"one offset",
       st_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", four),
       {"\"a\"", "data_offsets", "two non-negative integers"}},
      {"three offsets",
       st_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}})", four),
       {"\"a\"", "data_offsets", "two non-negative integers"}},
      {"negative offset",
       st_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", four),
       {"\"a\"", "data_offsets", "two non-negative integers"}},
      {"string offset",
       st_bytes(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, "4"]}})", four),
       {"\"a\"", "data_offsets", "two non-negative integers"}},
      {"begin after end", st_bytes(one(entry("a", "F32", "1", 8, 4)), eight), {"\"a\"", "[8, 4]", "begin > end"}},
      {"byte count mismatch",
       st_bytes(one(entry("a", "F32", "2", 0, 4)), four),
       {"\"a\"", "need 8 bytes", "[0, 4]", "mismatch"}},
      {"dtype size mismatch", st_bytes(one(entry("a", "F16", "4", 0, 4)), four), {"\"a\"", "F16", "need 8 bytes"}},
      {"offsets out of range",
       st_bytes(one(entry("a", "F32", "2", 0, 8)), four),
       {"\"a\"", "[0, 8]", "out of range", "holds only 4 bytes"}},
      {"overlapping tensors",
       st_bytes("{" + entry("a", "F32", "2", 0, 8) + "," + entry("b", "F32", "2", 4, 12) + "}", twelve),
       {"\"b\"", "overlaps", "\"a\""}},
      {"empty tensor inside another",
       st_bytes("{" + entry("a", "F32", "2", 0, 8) + "," + entry("e", "F32", "0", 4, 4) + "}", eight),
       {"\"e\"", "overlaps", "\"a\""}},
      {"hole between tensors",
       st_bytes("{" + entry("a", "F32", "1", 0, 4) + "," + entry("b", "F32", "1", 8, 12) + "}", twelve),
       {"[4, 8)", "hole before tensor \"b\""}},
      {"hole at the start", st_bytes(one(entry("a", "F32", "1", 4, 8)), eight), {"[0, 4)", "hole before tensor \"a\""}},
      {"hole at the end", st_bytes(one(entry("a", "F32", "1", 0, 4)), eight), {"last 4 bytes", "hole at the end"}},
      {"duplicate tensor name",
       st_bytes("{" + entry("a", "F32", "1", 0, 4) + "," + entry("a", "F32", "1", 4, 8) + "}", eight),
       {"\"a\" twice", "duplicate tensor name"}},
      {"duplicate key in an entry",
       st_bytes(R"({"a": {"dtype": "F32", "dtype": "F16", "shape": [1], "data_offsets": [0, 4]}})", four),
       {"\"dtype\" twice", "entry \"a\""}},
      {"metadata not an object", st_bytes(R"({"__metadata__": [1]})"), {"\"__metadata__\"", "object of strings"}},
      {"metadata value not a string",
       st_bytes(R"({"__metadata__": {"epoch": 3}})"),
       {"\"__metadata__\" key \"epoch\"", "string value"}},
  };
}

TEST_F(safetensors_io, every_malformed_file_is_a_clear_error) {
  int index = 0;
  for (const auto& m : malformed_files()) {
    const std::string p = write("bad" + std::to_string(index++) + ".safetensors", m.bytes);
    expect_file_error([&] { (void)jio::safetensors_file(p); }, p, m.fragments, m.what);
    EXPECT_THROW((void)jio::load_safetensors(p), joule::error) << m.what;
  }
}

TEST_F(safetensors_io, valid_layouts_the_checks_must_accept) {
  // Space padding, spaces and newlines inside, an empty tensor at a boundary, a rank-0 tensor,
  // tensors listed out of offset order, and __metadata__ in the middle.
  const std::string header = "{\n  " + entry("z", "F32", "1", 4, 8) + ",\n  \"__metadata__\": {},\n  " +
                             entry("e", "F32", "0,5", 4, 4) + ",\n  " + entry("a", "F32", "", 0, 4) + "\n}      ";
  const std::string p = write("ok.safetensors", st_bytes(header, f32_bytes(3.f) + f32_bytes(-1.f)));
  const auto all = jio::load_safetensors(p);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.at("a").shape(), shape{});
  EXPECT_EQ(all.at("a")[0], 3.f);
  EXPECT_EQ(all.at("z")[0], -1.f);
  EXPECT_EQ(all.at("e").shape(), (shape{0, 5}));
}

TEST_F(safetensors_io, every_truncation_and_corruption_is_an_error_not_a_crash) {
  std::map<std::string, tensor<float>> tensors;
  tensors.emplace("a", tensor<float>(shape{2, 2}, {1.f, 2.f, 3.f, 4.f}));
  tensors.emplace("b", tensor<float>(shape{}, {5.f}));
  tensors.emplace("c", tensor<float>(shape{0, 2}));
  const std::string full_path = path("full.safetensors");
  jio::save_safetensors(full_path, tensors, {{"k", "v"}});
  const std::string full = read_bytes(full_path);
  ASSERT_GT(full.size(), 8u);

  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::string p = write("cut.safetensors", std::string_view(full).substr(0, n));
    try {
      const auto loaded = jio::load_safetensors(p);
      ADD_FAILURE() << "a file truncated to " << n << " of " << full.size() << " bytes loaded";
    } catch (const joule::error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }

  // Any single corrupted byte either still forms a valid file or is a joule::error.
  auto rng = joule_test::rng_for_test();
  for (std::size_t i = 0; i < full.size(); ++i) {
    for (int trial = 0; trial < 3; ++trial) {
      std::string bytes = full;
      bytes[i] = static_cast<char>(joule_test::uniform_int(rng, 0, 255));
      const std::string p = write("flip.safetensors", bytes);
      try {
        const jio::safetensors_file file(p);
        for (const auto& name : file.names()) (void)file.load_f32(name);
      } catch (const joule::error&) {
      }
    }
  }
}

}  // namespace

// joule::io .npy reader and writer.
//
// Error bound: '<f4' and '<i8' round trips and the widening of '<f2', '<i4', '<i2', '|i1', '|u1',
// '<u2', '<u4' are exact and compared by bit pattern or value. '<f8' to float32 is one rounding
// to nearest (the same as static_cast<float>), so it is compared against static_cast<float> of the
// double, exactly, including overflow to inf, underflow to -0 and NaN.
//
// Covered: write/read round trips of float32 and int64 tensors of rank 0..5, empty ones, special
// values and int64 extremes; the writer's layout (version 1.0, header padded with spaces and a
// newline to a multiple of 64 bytes, NumPy's dict text), byte-for-byte equality with the golden
// files in tests/data/io, atomic writes that leave no temporary; headers in every spelling NumPy
// (or a person) may use: keys in any order, double quotes, no trailing comma, extra spaces and
// newlines, shapes (), (3,) and (2, 3,), versions 2.0 and 3.0; conversions '<f8' and '<f2' to
// float32 and narrower integers to int64.
//
// Bad input tested, each for a message naming the file and the offset (or the dtype): an empty
// file, a short file, bad magic; versions 4.0, 1.1 and 0.0; a header length past the end (v1 and
// v2) and a length field cut short; a header that is not a dict; missing, unknown and duplicate
// keys; a key that is not a string; missing ':' and ','; an unterminated string, escapes; text
// after the dict; shapes (3) and [3], negative, fractional and too-large dimensions, element and
// byte counts that overflow; fortran_order neither True nor False, and True; big-endian '>f4';
// object '|O', unicode '<U5', complex '<c8' and structured dtypes; data cut short and trailing
// bytes; integers read as floats and floats as integers, booleans, '<u8' as int64, rank 6; a
// writer target in a missing directory and a null data pointer. Every truncation of a valid file
// and single-byte corruptions of it must give a joule::error, never a crash.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include <joule/io/npy.hpp>

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
using joule_test::io::le32;
using joule_test::io::le64;
using joule_test::io::read_bytes;
namespace jio = joule::io;

const std::string kMagic("\x93NUMPY", 6);

/** A .npy file with @p header taken as is (no padding added) and @p data. */
std::string npy_bytes(std::string_view header, std::string_view data = "", int major = 1) {
  const std::string length = major == 1 ? le16(header.size()) : le32(header.size());
  return kMagic + static_cast<char>(major) + '\0' + length + std::string(header) + std::string(data);
}

std::string dict(const std::string& descr, const std::string& shape_text, const std::string& order = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape_text + ", }";
}

std::string golden_dir() {
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "data" / "io").string();
}

class npy_io : public joule_test::io::temp_dir_test {};

TEST_F(npy_io, float32_round_trip_ranks_0_to_5) {
  auto rng = joule_test::rng_for_test();
  const shape shapes[] = {{}, {1}, {7}, {2, 3}, {0}, {3, 0, 2}, {2, 3, 4, 5}, {1, 2, 1, 3, 2}};
  for (const auto& s : shapes) {
    auto t = joule_test::random_tensor(rng, s, -5.f, 5.f);
    if (t.numel() >= 4) {
      t[0] = std::numeric_limits<float>::quiet_NaN();
      t[1] = -0.f;
      t[2] = -std::numeric_limits<float>::infinity();
      t[3] = std::numeric_limits<float>::denorm_min();
    }
    const std::string p = path("t.npy");
    jio::write_npy(p, t);
    const auto back = jio::read_npy_f32(p);
    ASSERT_EQ(back.shape(), t.shape()) << s;
    for (std::int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(bits(back[i]), bits(t[i])) << s << " element " << i;

    // Layout as NumPy writes it.
    const std::string bytes = read_bytes(p);
    ASSERT_GE(bytes.size(), 10u);
    EXPECT_EQ(bytes.substr(0, 8), kMagic + std::string("\x01\x00", 2));
    const std::size_t header_size = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    EXPECT_EQ((10 + header_size) % 64, 0u) << s;
    EXPECT_EQ(bytes[10 + header_size - 1], '\n');
    std::string shape_text = "(";
    for (int a = 0; a < s.rank(); ++a) shape_text += (a ? ", " : "") + std::to_string(s[a]);
    shape_text += s.rank() == 1 ? ",)" : ")";
    EXPECT_EQ(bytes.substr(10, bytes.find('}') - 9), dict("<f4", shape_text)) << s;
    EXPECT_EQ(bytes.size(), 10 + header_size + 4 * static_cast<std::size_t>(t.numel()));
  }
  EXPECT_EQ(listing(), std::vector<std::string>{"t.npy"}) << "a temporary file was left behind";
}

TEST_F(npy_io, int64_round_trip) {
  const std::int64_t extremes[] = {
      std::numeric_limits<std::int64_t>::min(), -1, 0, 1, std::numeric_limits<std::int64_t>::max(), 9007199254740993};
  tensor<std::int64_t> t(shape{2, 3});
  std::copy(std::begin(extremes), std::end(extremes), t.data());
  const std::string p = path("ids.npy");
  jio::write_npy(p, t);
  const auto back = jio::read_npy_i64(p);
  ASSERT_EQ(back.shape(), t.shape());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(back[i], extremes[i]);
  const auto raw = jio::read_npy(p);
  EXPECT_EQ(raw.descr, "<i8");
  EXPECT_EQ(raw.item_size, 8u);

  tensor<std::int64_t> scalar(shape{}, {42});
  jio::write_npy(p, scalar);
  EXPECT_EQ(jio::read_npy_i64(p).shape(), shape{});
  EXPECT_EQ(jio::read_npy_i64(p)[0], 42);
  tensor<std::int64_t> empty(shape{0, 4});
  jio::write_npy(p, empty);
  EXPECT_EQ(jio::read_npy_i64(p).shape(), (shape{0, 4}));
}

TEST_F(npy_io, golden_files_read_and_are_written_byte_for_byte) {
  const std::string f32_golden = golden_dir() + "/f32_2x3.npy";
  const auto f = jio::read_npy_f32(f32_golden);
  ASSERT_EQ(f.shape(), (shape{2, 3}));
  const float want[] = {0.5f, -1.f, 2.25f, 3.f, -0.f, 65504.f};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bits(f[i]), bits(want[i])) << i;
  jio::write_npy(path("f.npy"), f);
  EXPECT_EQ(read_bytes(path("f.npy")), read_bytes(f32_golden));

  const std::string i64_golden = golden_dir() + "/i64_3.npy";
  const auto n = jio::read_npy_i64(i64_golden);
  ASSERT_EQ(n.shape(), shape{3});
  EXPECT_EQ(n[0], -1);
  EXPECT_EQ(n[1], 0);
  EXPECT_EQ(n[2], 9007199254740993);
  jio::write_npy(path("n.npy"), n);
  EXPECT_EQ(read_bytes(path("n.npy")), read_bytes(i64_golden));
}

TEST_F(npy_io, header_spellings_the_parser_must_accept) {
  const std::string data =
      f32_bytes(1.f) + f32_bytes(2.f) + f32_bytes(3.f) + f32_bytes(4.f) + f32_bytes(5.f) + f32_bytes(6.f);
  const std::pair<const char*, std::string> variants[] = {
      {"reordered, double quotes, no trailing comma",
       npy_bytes(R"({"shape": (2, 3), "fortran_order": False, "descr": "<f4"})", data)},
      {"spaces and newlines everywhere",
       npy_bytes("{ 'descr' : '<f4' ,\n 'fortran_order' : False ,  'shape' : ( 2 , 3 , ) , }\n   ", data)},
      {"no spaces", npy_bytes("{'descr':'<f4','fortran_order':False,'shape':(2,3)}", data)},
      {"version 2.0", npy_bytes(dict("<f4", "(2, 3)") + "\n", data, 2)},
      {"version 3.0", npy_bytes(dict("<f4", "(2, 3)") + "\n", data, 3)},
  };
  for (const auto& [what, bytes] : variants) {
    const std::string p = write("v.npy", bytes);
    const auto t = jio::read_npy_f32(p);
    ASSERT_EQ(t.shape(), (shape{2, 3})) << what;
    EXPECT_EQ(t[5], 6.f) << what;
  }
  const auto scalar = jio::read_npy_f32(write("s.npy", npy_bytes(dict("<f4", "()"), f32_bytes(7.f))));
  EXPECT_EQ(scalar.shape(), shape{});
  EXPECT_EQ(scalar[0], 7.f);
  const auto vector = jio::read_npy_f32(write("v1.npy", npy_bytes(dict("<f4", "(1,)"), f32_bytes(8.f))));
  EXPECT_EQ(vector.shape(), shape{1});
}

TEST_F(npy_io, conversions_to_float32) {
  const double doubles[] = {0.1, -1e300, 1e-50, -1e-50, 3.0, std::numeric_limits<double>::quiet_NaN()};
  std::string data;
  for (const double d : doubles) data += le64(std::bit_cast<std::uint64_t>(d));
  const auto f = jio::read_npy_f32(write("f8.npy", npy_bytes(dict("<f8", "(6,)"), data)));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bits(f[i]), bits(static_cast<float>(doubles[i]))) << doubles[i];

  std::string halves;
  for (const std::uint16_t h : {0x3C00, 0x0001, 0xFC00}) halves += le16(h);
  const auto h = jio::read_npy_f32(write("f2.npy", npy_bytes(dict("<f2", "(3,)"), halves)));
  EXPECT_EQ(bits(h[0]), 0x3F800000u);
  EXPECT_EQ(bits(h[1]), 0x33800000u);
  EXPECT_EQ(bits(h[2]), 0xFF800000u);
}

TEST_F(npy_io, conversions_to_int64) {
  const auto i4 = jio::read_npy_i64(
      write("i4.npy", npy_bytes(dict("<i4", "(3,)"), le32(0xFFFFFFFB) + le32(0x7FFFFFFF) + le32(0x80000000))));
  EXPECT_EQ(i4[0], -5);
  EXPECT_EQ(i4[1], 2147483647);
  EXPECT_EQ(i4[2], -2147483648LL);
  const auto i2 = jio::read_npy_i64(write("i2.npy", npy_bytes(dict("<i2", "(1,)"), le16(0x8000))));
  EXPECT_EQ(i2[0], -32768);
  const auto i1 = jio::read_npy_i64(write("i1.npy", npy_bytes(dict("|i1", "(1,)"), "\x80")));
  EXPECT_EQ(i1[0], -128);
  const auto u1 = jio::read_npy_i64(write("u1.npy", npy_bytes(dict("|u1", "(1,)"), "\xff")));
  EXPECT_EQ(u1[0], 255);
  const auto u4 = jio::read_npy_i64(write("u4.npy", npy_bytes(dict("<u4", "(1,)"), le32(0xFFFFFFFF))));
  EXPECT_EQ(u4[0], 4294967295LL);
  const auto b1 = jio::read_npy(write("b1.npy", npy_bytes(dict("|b1", "(2,)"), std::string("\x01\x00", 2))));
  EXPECT_EQ(b1.kind, 'b');
  EXPECT_EQ(b1.data.size(), 2u);
}

TEST_F(npy_io, wrong_kind_for_the_reader) {
  const std::string ints = write("i8.npy", npy_bytes(dict("<i8", "(1,)"), le64(1)));
  expect_error([&] { (void)jio::read_npy_f32(ints); }, {ints, "'<i8'", "read_npy_i64"}, "ints as floats");
  const std::string floats = write("f4.npy", npy_bytes(dict("<f4", "(1,)"), f32_bytes(1.f)));
  expect_error([&] { (void)jio::read_npy_i64(floats); }, {floats, "'<f4'", "read_npy_f32"}, "floats as ints");
  const std::string bools = write("b1.npy", npy_bytes(dict("|b1", "(1,)"), std::string(1, '\1')));
  expect_error([&] { (void)jio::read_npy_f32(bools); }, {bools, "'|b1'", "does not convert"}, "bools as floats");
  expect_error([&] { (void)jio::read_npy_i64(bools); }, {bools, "'|b1'", "does not convert"}, "bools as ints");
  const std::string u8 = write("u8.npy", npy_bytes(dict("<u8", "(1,)"), le64(1)));
  expect_error([&] { (void)jio::read_npy_i64(u8); }, {u8, "'<u8'", "may not fit"}, "uint64 as int64");
  const std::string rank6 = write("r6.npy", npy_bytes(dict("<f4", "(1, 1, 1, 1, 1, 1)"), f32_bytes(1.f)));
  EXPECT_EQ(jio::read_npy(rank6).shape.size(), 6u);
  expect_error([&] { (void)jio::read_npy_f32(rank6); }, {rank6, "rank 6", "maximum rank"}, "rank 6");
}

TEST_F(npy_io, writer_errors) {
  const std::string missing = path("no/such/dir/x.npy");
  expect_error([&] { jio::write_npy(missing, tensor<float>(shape{2})); }, {missing, "cannot create"}, "missing dir");
  const std::string p = path("null.npy");
  expect_error([&] { jio::write_npy(p, joule::tensor_view<const float>(nullptr, shape{3})); }, {p, "null data pointer"},
               "null data");
  EXPECT_TRUE(listing().empty());
}

/** A malformed file: its bytes and the fragments its error message must contain (besides the path). */
struct malformed {
  const char* what;
  std::string bytes;
  std::vector<std::string> fragments;
};

/** "offset N": where @p needle first occurs in @p header at or after @p from, as a file offset. */
std::string offset_of(const std::string& header, const std::string& needle, std::size_t from = 0) {
  const auto i = header.find(needle, from);
  EXPECT_NE(i, std::string::npos) << needle << " in " << header;
  return "offset " + std::to_string(10 + i);
}

std::vector<malformed> malformed_files() {
  const std::string twelve(12, '\0');
  const std::string f4_3 = dict("<f4", "(3,)");
  std::vector<malformed> cases = {
      {"empty file", "", {"empty", "offset 0"}},
      {"bad magic", npy_bytes(f4_3, twelve).replace(1, 5, "NUMPX"), {"bad magic", "offset 0"}},
      {"not npy at all", "PK\x03\x04 zip file", {"bad magic", "offset 0"}},
      {"short file", kMagic.substr(0, 4), {"4 bytes", "too short", "truncated"}},
      {"version 4.0", kMagic + "\x04" + std::string(1, '\0') + le16(0), {"version 4.0", "offset 6"}},
      {"version 1.1", kMagic + "\x01\x01" + le16(0), {"version 1.1", "offset 6"}},
      {"version 0.0", kMagic + std::string(2, '\0') + le16(0), {"version 0.0", "offset 6"}},
      {"length field cut short", kMagic + "\x02" + std::string(1, '\0') + "\x10", {"too short", "offset 8"}},
      {"header length past the end",
       kMagic + "\x01" + std::string(1, '\0') + le16(500) + f4_3,
       {"header length 500", "offset 8", "past the end"}},
      {"v2 header length past the end",
       kMagic + "\x02" + std::string(1, '\0') + le32(0xFFFFFFFF) + f4_3,
       {"header length 4294967295", "offset 8", "past the end"}},
      {"fortran order", npy_bytes(dict("<f4", "(3,)", "True"), twelve), {"fortran_order is True", "C-order"}},
      {"truncated data",
       npy_bytes(f4_3, std::string(8, '\0')),
       {"needs 12 data bytes from offset " + std::to_string(10 + f4_3.size()), "only 8", "truncated"}},
      {"trailing bytes",
       npy_bytes(f4_3, std::string(16, '\0')),
       {"4 unexpected bytes", "offset " + std::to_string(10 + f4_3.size() + 12)}},
  };
  // Header faults, each reported at the file offset of the offending text (@p needle, searched
  // from @p from), when it has one.
  const auto header_fault = [&](const char* what, const std::string& header, std::vector<std::string> fragments,
                                const std::string& needle = "", std::size_t from = 0) {
    if (!needle.empty()) fragments.push_back(offset_of(header, needle, from));
    cases.push_back({what, npy_bytes(header, twelve), std::move(fragments)});
  };
  header_fault("not a dict", "['descr', '<f4']", {"must be a dict"}, "[");
  header_fault("missing shape", "{'descr': '<f4', 'fortran_order': False}", {"no key 'shape'"});
  header_fault("missing descr", "{'fortran_order': False, 'shape': (3,)}", {"no key 'descr'"});
  header_fault("unknown key", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
               {"unexpected key 'extra'"}, "'extra'");
  header_fault("duplicate key", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
               {"'descr' appears twice"}, "'descr'", 2);
  header_fault("key not a string", "{descr: '<f4', 'fortran_order': False, 'shape': (3,)}", {"dict key"}, "descr");
  header_fault("missing colon", "{'descr' '<f4', 'fortran_order': False, 'shape': (3,)}", {"expected ':'"}, "'<f4'");
  header_fault("missing comma", "{'descr': '<f4' 'fortran_order': False, 'shape': (3,)}", {"expected ',' or '}'"},
               "'fortran_order'");
  header_fault("unterminated string", "{'descr': '<f4", {"unterminated string"}, "'<f4");
  header_fault("escape in a string", "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (3,)}", {"escape"}, "\\");
  header_fault("text after the dict", f4_3 + " x", {"after the header dict"}, "x");
  header_fault("unclosed dict", "{'descr': '<f4', ", {"dict key"});
  header_fault("shape (3)", dict("<f4", "(3)"), {"not a tuple", "(3,)"}, "(3)");
  header_fault("shape [3]", dict("<f4", "[3]"), {"must be a tuple"}, "[3]");
  header_fault("negative dim", dict("<f4", "(-1,)"), {"non-negative"}, "-1");
  header_fault("fractional dim", dict("<f4", "(2.5,)"), {"expected ',' or ')'"}, ".5");
  header_fault("dim above int64", dict("<f4", "(99999999999999999999,)"), {"does not fit in int64"}, "999");
  header_fault("element count overflow", dict("<f4", "(4294967296, 4294967296)"), {"element count", "overflows"});
  header_fault("byte count overflow", dict("<f8", "(2305843009213693952,)"), {"byte count", "overflows"});
  header_fault("fortran_order neither", dict("<f4", "(3,)", "yes"), {"True or False"}, "yes");
  header_fault("big-endian", dict(">f4", "(3,)"), {"big-endian", "'>f4'"}, "'>f4'");
  header_fault("object array", dict("|O", "(3,)"), {"object arrays", "'|O'"}, "'|O'");
  header_fault("unicode", dict("<U5", "(3,)"), {"unsupported dtype '<U5'"}, "'<U5'");
  header_fault("complex", dict("<c8", "(3,)"), {"unsupported dtype '<c8'"}, "'<c8'");
  header_fault("structured", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", {"structured"}, "[");
  return cases;
}

TEST_F(npy_io, every_malformed_file_is_a_clear_error) {
  int index = 0;
  for (const auto& m : malformed_files()) {
    const std::string p = write("bad" + std::to_string(index++) + ".npy", m.bytes);
    expect_file_error([&] { (void)jio::read_npy(p); }, p, m.fragments, m.what);
    EXPECT_THROW((void)jio::read_npy_f32(p), joule::error) << m.what;
  }
}

TEST_F(npy_io, every_truncation_and_corruption_is_an_error_not_a_crash) {
  const std::string full_path = path("full.npy");
  jio::write_npy(full_path, tensor<float>(shape{2, 3}, {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}));
  const std::string full = read_bytes(full_path);
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::string p = write("cut.npy", std::string_view(full).substr(0, n));
    try {
      (void)jio::read_npy(p);
      ADD_FAILURE() << "a file truncated to " << n << " of " << full.size() << " bytes was read";
    } catch (const joule::error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }
  auto rng = joule_test::rng_for_test();
  for (std::size_t i = 0; i < full.size(); ++i) {
    for (int trial = 0; trial < 3; ++trial) {
      std::string bytes = full;
      bytes[i] = static_cast<char>(joule_test::uniform_int(rng, 0, 255));
      const std::string p = write("flip.npy", bytes);
      try {
        (void)jio::read_npy_f32(p);
      } catch (const joule::error&) {
      }
    }
  }
}

}  // namespace

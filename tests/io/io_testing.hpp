#pragma once
/**
 * @file io_testing.hpp
 * @brief What the file I/O tests share: a temporary directory per test, byte builders for
 * hand-made (and deliberately broken) files, and the check that an error names what it should.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <joule/core/error.hpp>

namespace joule_test::io {

namespace fs = std::filesystem;

/** @brief A test fixture owning a fresh temporary directory, removed after the test. */
class temp_dir_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "joule_io_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "cannot create a temporary directory";
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  /** @brief A path named @p name inside the temporary directory. */
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  /** @brief Writes @p bytes to path(@p name) and returns that path. */
  std::string write(const std::string& name, std::string_view bytes) const {
    std::string p = path(name);  // not const: returned by move
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good()) << "cannot write " << p;
    return p;
  }
  /** @brief Names of the files in the temporary directory (to spot leftover temporaries). */
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

/** @brief The whole content of the file at @p path. */
inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/** @brief @p value as @p N little-endian bytes. */
template <std::size_t N>
std::string le(std::uint64_t value) {
  std::string out(N, '\0');
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}
inline std::string le16(std::uint64_t v) { return le<2>(v); }
inline std::string le32(std::uint64_t v) { return le<4>(v); }
inline std::string le64(std::uint64_t v) { return le<8>(v); }
inline std::string f32_bytes(float f) { return le32(std::bit_cast<std::uint32_t>(f)); }

/** @brief The bit pattern of @p f, for exact comparisons that see NaN payloads and -0. */
inline std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

/**
 * @brief Runs @p body and expects a joule::error whose message contains every one of
 * @p fragments; anything else (no exception, another exception type) is a failure.
 */
template <class Body, class Fragments>
void expect_error_with(Body&& body, const Fragments& fragments, const std::string& what = "") {
  try {
    body();
  } catch (const joule::error& e) {
    const std::string message = e.what();
    for (const auto& fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos)
          << what << ": the message\n  " << message << "\nlacks \"" << fragment << "\"";
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": expected joule::error, got another exception: " << e.what();
    return;
  }
  ADD_FAILURE() << what << ": expected joule::error, nothing was thrown";
}

template <class Body>
void expect_error(Body&& body, std::initializer_list<std::string_view> fragments, const std::string& what = "") {
  expect_error_with(std::forward<Body>(body), fragments, what);
}

/** @brief The malformed-file check both readers share: the message names the file and each fragment. */
template <class Body>
void expect_file_error(Body&& body, const std::string& path, const std::vector<std::string>& fragments,
                       const std::string& what) {
  std::vector<std::string> expected{"'" + path + "'"};
  expected.insert(expected.end(), fragments.begin(), fragments.end());
  expect_error_with(std::forward<Body>(body), expected, what);
}

}  // namespace joule_test::io

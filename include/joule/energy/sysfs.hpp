#pragma once
/**
 * @file sysfs.hpp
 * @brief Reading the small text files of sysfs and procfs, with the reader injectable for tests.
 *
 * Every meter that reads a kernel file takes a joule::energy::file_reader, so that tests can run on
 * a fake tree in a temporary directory and can make a file "unreadable" even when they run as
 * root (root ignores permission bits, so a chmod 000 file would still be readable there).
 */
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace joule::energy {

/** @brief The text of a small file, or the errno value that reading it failed with. */
struct file_read {
  std::string text;
  int error = 0;  ///< 0 on success, else an errno value (EACCES, ENOENT, EISDIR, ...)
  [[nodiscard]] bool ok() const noexcept { return error == 0; }
};

/** @brief How meters read kernel files; replace it to fake a tree or an unreadable file. */
using file_reader = std::function<file_read(const std::filesystem::path&)>;

/**
 * @brief Reads a whole small file with open(2)/read(2), keeping errno exactly.
 *
 * Sysfs attributes are at most a page; the loop still reads until end of file. A directory opens
 * but read(2) fails with EISDIR, which is reported like any other error.
 */
inline file_read read_small_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {{}, errno};
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      return {{}, saved};
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > (std::size_t{1} << 20)) break;  // no kernel attribute is this large
  }
  ::close(fd);
  return {std::move(text), 0};
}

namespace detail {

/** @brief The message of an errno value ("Permission denied"), thread-safe unlike strerror. */
inline std::string errno_text(int error) { return std::generic_category().message(error); }

/** @brief @p text without leading and trailing whitespace (sysfs values end with a newline). */
inline std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

/** @brief A whole unsigned decimal number, or nothing for "", "-1", "12abc", overflow. */
inline std::optional<std::uint64_t> parse_u64(std::string_view text, int base = 10) {
  text = trim(text);
  if (base == 16 && (text.starts_with("0x") || text.starts_with("0X"))) text.remove_prefix(2);
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/** @brief A whole finite floating-point number, or nothing. */
inline std::optional<double> parse_double(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

/** @brief Shortens a file's text for an error message ("'abc'" or "'12345678901234567890...'"). */
inline std::string quote_for_message(std::string_view text) {
  text = trim(text);
  if (text.size() > 40) return "'" + std::string(text.substr(0, 40)) + "...'";
  return "'" + std::string(text) + "'";
}

/**
 * @brief Parses a kernel CPU list such as "0", "0,36" or "0-3,8-11" into CPU numbers.
 * @return nothing when the text is not a CPU list.
 */
inline std::optional<std::vector<int>> parse_cpu_list(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  std::vector<int> cpus;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto dash = item.find('-');
    const auto first = parse_u64(item.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_u64(item.substr(dash + 1));
    if (!first || !last || *last < *first || *last > 1'000'000) return std::nullopt;
    for (auto cpu = *first; cpu <= *last; ++cpu) cpus.push_back(static_cast<int>(cpu));
  }
  return cpus;
}

}  // namespace detail
}  // namespace joule::energy

#pragma once
/**
 * @file fuzz_input_file.hpp
 * @brief What the fuzz targets share: joule's readers take a path (they map the file), so each input
 * is written to one file per process first; and a command line made from an input's lines.
 */
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace joule_fuzz {

/** @brief A directory of this process's own under the temporary directory, created on first use. */
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("joule-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

/** @brief Writes @p size bytes to scratch_dir()/@p name (replacing it) and returns the path. */
inline std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& name) {
  std::string path = (scratch_dir() / name).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();  // the harness cannot work at all: not a finding in joule, but never silently skip
  }
  return path;
}

/**
 * @brief The input's lines as a command line after @p program: one argument per line, so corpus files
 * read as what a user types ("--model\nresnet50\n"). Empty lines are empty arguments.
 */
inline std::vector<std::string> arguments_from(const std::uint8_t* data, std::size_t size, const char* program) {
  std::vector<std::string> args{program};
  std::string current;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (!current.empty()) args.push_back(current);
  return args;
}

}  // namespace joule_fuzz

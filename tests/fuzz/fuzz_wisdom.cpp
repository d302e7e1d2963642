// Fuzz target: the wisdom reader (joule::tuning::wisdom_file) on arbitrary bytes, then a lookup
// that compares the loaded keys with a fixed one. A file that does not validate must be set aside
// and reported in notes(), never thrown out of the constructor; anything escaping is a finding.
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include <joule/choose/wisdom.hpp>

#include "fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A fresh directory per input: the reader renames a corrupt file aside, and the set-aside files
  // of earlier inputs must not pile up.
  const auto dir = joule_fuzz::scratch_dir() / "wisdom";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = dir / "wisdom.json";
  {
    const std::string written = joule_fuzz::write_input(data, size, "wisdom.json");
    std::filesystem::rename(written, path);
  }
  joule::tuning::wisdom_file wisdom(path);
  joule::tuning::wisdom_key key;
  key.model = "resnet50";
  key.config_hash = "0123456789abcdef";
  key.input = "1x3x224x224";
  key.policy = "simd";
  key.meter_kind = "estimated";
  (void)wisdom.lookup(key);
  for (const auto& [hash, entry] : wisdom.entries()) (void)wisdom.lookup(entry.key);
  return 0;
}

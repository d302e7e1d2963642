// Fuzz target: joule::io::read_npy, read_npy_f32 and read_npy_i64 on arbitrary bytes. A malformed
// file must end in a joule::error; anything else is a finding.
#include <cstddef>
#include <cstdint>

#include <joule/io/npy.hpp>

#include "fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = joule_fuzz::write_input(data, size, "input.npy");
  try {
    (void)joule::io::read_npy(path);
  } catch (const joule::error&) {
  }
  try {
    (void)joule::io::read_npy_f32(path);
  } catch (const joule::error&) {
  }
  try {
    (void)joule::io::read_npy_i64(path);
  } catch (const joule::error&) {
  }
  return 0;
}

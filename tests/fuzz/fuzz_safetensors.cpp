// Fuzz target: joule::io::safetensors_file and load_safetensors on arbitrary bytes. A malformed
// file must end in a joule::error; anything else (a crash, a sanitizer report, another exception
// escaping) is a finding.
#include <cstddef>
#include <cstdint>

#include <joule/io/safetensors.hpp>

#include "fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = joule_fuzz::write_input(data, size, "input.safetensors");
  try {
    const joule::io::safetensors_file file(path);
    for (const auto& name : file.names()) {
      const auto& info = file.info(name);
      (void)file.bytes(name);
      if (joule::io::detail::safetensors_is_float(info.dtype)) {
        (void)file.load_f32(name);
        try {
          (void)file.view_f32(name);  // F32 only, and only when aligned: a joule::error otherwise
        } catch (const joule::error&) {
        }
      }
    }
  } catch (const joule::error&) {
  }
  try {
    (void)joule::io::load_safetensors(path, {.skip_non_float = true});
  } catch (const joule::error&) {
  }
  return 0;
}

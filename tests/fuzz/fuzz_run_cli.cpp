// Fuzz target: joule-run's command line (examples/joule_run_options.hpp), one argument per input
// line. CLI11 reports bad arguments as CLI::ParseError (the tool prints it and exits non-zero);
// anything else escaping, or a crash, is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../../examples/joule_run_options.hpp"
#include "fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto args = joule_fuzz::arguments_from(data, size, "joule-run");
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (auto& a : args) argv.push_back(a.data());
  CLI::App app{"joule-run"};
  joule::cli::run_arguments parsed;
  // The policy list is a parameter so the fuzzer need not compile every policy; these are joule's names.
  joule::cli::add_run_options(app, parsed, {"scalar", "simd", "blas", "eigen", "cuda"});
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError&) {
  }
  return 0;
}

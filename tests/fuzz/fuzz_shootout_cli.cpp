// Fuzz target: joule-shootout's command line (examples/joule_shootout_options.hpp), one argument
// per input line, then the two option values that are small languages of their own: --objective
// (joule::objective_spec::parse) and --estimate (joule::energy::parse_estimate_override), exactly
// as joule-shootout hands them on. Bad input must be a CLI::ParseError or a joule::error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <joule/choose/objective.hpp>
#include <joule/energy/estimate.hpp>

#include "../../examples/joule_shootout_options.hpp"
#include "fuzz_input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto args = joule_fuzz::arguments_from(data, size, "joule-shootout");
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (auto& a : args) argv.push_back(a.data());
  CLI::App app{"joule-shootout"};
  joule::cli::shootout_arguments parsed;
  joule::cli::add_shootout_options(app, parsed, {"all", "scalar", "simd", "blas", "eigen", "cuda"});
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError&) {
    return 0;
  }
  try {
    (void)joule::objective_spec::parse(parsed.objective);
  } catch (const joule::error&) {
  }
  try {
    if (!parsed.estimate.empty()) (void)joule::energy::parse_estimate_override(parsed.estimate);
  } catch (const joule::error&) {
  }
  return 0;
}

#pragma once
/**
 * @file machine_key.hpp
 * @brief What about this machine and this build makes a measurement valid: CPU model and
 * instruction-set flags, core count, GPU model and driver, joule version, BLAS library and kernels, SIMD
 * architecture, compiler. The wisdom cache keys every entry by it (with the model, batch, policy...).
 *
 * Collected from /proc/cpuinfo (injectable for tests), the policies' own reports
 * (joule::blas::kernel_name(), joule::simd::arch_name()) and the compiler's __VERSION__.
 */
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <joule/config.hpp>
#include <joule/policy/policies.hpp>

namespace joule::tuning {

/** @brief The build and hardware a measurement was taken on. Equal keys: comparable measurements. */
struct machine_key {
  std::string cpu_model = "unknown";  ///< "AMD EPYC 9654 96-Core Processor"
  std::string cpu_flags;           ///< instruction-set flags only (sse*, avx*, fma, amx*, ...), sorted, space-separated
  int cores = 0;                   ///< logical CPUs (std::thread::hardware_concurrency)
  std::string gpu_model = "none";  ///< the CUDA device's name, when a GPU policy is compiled in
  std::string gpu_driver = "none";  ///< the CUDA driver version, likewise
  std::string joule_version = kVersion;
  std::string blas_library;  ///< OpenBLAS's build ("OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY ...") or "none"
  std::string blas_kernel;   ///< OpenBLAS's selected kernel family ("Haswell", "SkylakeX") or "none"
  std::string simd_arch;     ///< the xsimd architecture the simd policy was compiled for
  std::string compiler;      ///< "gcc 12.2.0", "clang 16.0.6"

  friend bool operator==(const machine_key&, const machine_key&) = default;
};

// JSON with one field per member, named as the member; a missing field is an error when read.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(machine_key, cpu_model, cpu_flags, cores, gpu_model, gpu_driver, joule_version,
                                   blas_library, blas_kernel, simd_arch, compiler)

namespace detail {

/** Flags that name an instruction-set extension a kernel may use (x86 and Arm spellings). */
inline bool is_isa_flag(std::string_view flag) {
  constexpr std::string_view kPrefixes[] = {"sse",   "ssse", "avx",  "fma",  "f16c", "amx",  "bmi", "popcnt",
                                            "asimd", "sve",  "neon", "fp16", "bf16", "i8mm", "vnni"};
  for (auto p : kPrefixes)
    if (flag.starts_with(p)) return true;
  return false;
}

inline std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

inline std::string compiler_id() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_FULL_VER);
#else
  return "unknown compiler";
#endif
}

}  // namespace detail

/**
 * @brief Fills the CPU fields of @p key from the text of /proc/cpuinfo: the first "model name"
 * (x86) or "CPU part"/"Hardware" (Arm), and the first "flags"/"Features" line filtered to
 * instruction-set extensions and sorted, so that unrelated flags (a new mitigation, "hypervisor")
 * do not make wisdom stale.
 */
inline void parse_cpuinfo(std::string_view text, machine_key& key) {
  std::string model, part, flags;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = detail::trim(line.substr(0, colon));
    const std::string value = detail::trim(line.substr(colon + 1));
    if (name == "model name" && model.empty())
      model = value;
    else if ((name == "Hardware" || name == "CPU part") && part.empty())
      part = value;
    else if ((name == "flags" || name == "Features") && flags.empty())
      flags = value.empty() ? " " : value;
  }
  key.cpu_model = !model.empty() ? model : !part.empty() ? part : "unknown";
  std::vector<std::string> isa;
  std::istringstream words(flags);
  for (std::string w; words >> w;)
    if (detail::is_isa_flag(w)) isa.push_back(w);
  std::sort(isa.begin(), isa.end());
  isa.erase(std::unique(isa.begin(), isa.end()), isa.end());
  key.cpu_flags.clear();
  for (const auto& f : isa) key.cpu_flags.append(key.cpu_flags.empty() ? "" : " ").append(f);
}

/**
 * @brief This machine's key. @p cpuinfo_text replaces /proc/cpuinfo when given (tests); the rest
 * comes from the build and the policies.
 */
inline machine_key collect_machine_key(std::string_view cpuinfo_text = {}) {
  machine_key key;
  if (cpuinfo_text.empty()) {
    std::ifstream in("/proc/cpuinfo");
    std::stringstream buffer;
    buffer << in.rdbuf();
    parse_cpuinfo(buffer.str(), key);
  } else {
    parse_cpuinfo(cpuinfo_text, key);
  }
  key.cores = static_cast<int>(std::thread::hardware_concurrency());
  key.blas_library = detail::trim(blas::library_config());
  key.blas_kernel = blas::kernel_name();
  key.simd_arch = simd::arch_name();
  key.compiler = detail::compiler_id();
#if JOULE_CUDA_KERNELS
  if (cuda::available()) {
    cudaDeviceProp props{};
    if (cudaGetDeviceProperties(&props, 0) == cudaSuccess) key.gpu_model = props.name;
    int driver = 0;
    if (cudaDriverGetVersion(&driver) == cudaSuccess)
      key.gpu_driver = std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10);
  }
#endif
  return key;
}

}  // namespace joule::tuning

// joule-info: what this build of joule can run on this machine, and why not where it cannot.
#include <iostream>

#include <joule/joule.hpp>

int main() {
  std::cout << "joule " << joule::kVersion << "\n\npolicies:\n";
  joule::known_policies::for_each([]<class P>() {
    std::cout << "  " << P::name() << ": ";
    if (P::available())
      std::cout << "available\n";
    else
      std::cout << "unavailable (" << P::unavailable_reason() << ")\n";
  });
  std::cout << "\nsimd instruction set: " << joule::simd::arch_name() << "\n";
  if (joule::blas::available()) {
    std::cout << "OpenBLAS kernels: " << joule::blas::kernel_name() << " (" << joule::blas::library_config() << ")\n";
    if (const auto note = joule::blas::kernel_note(); !note.empty()) std::cout << "note: " << note << "\n";
  }
  std::cout << "threads: " << joule::hardware_threads() << "\n";
}

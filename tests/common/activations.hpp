#pragma once
// Every activation the fused epilogues take, in the order the random case generators draw from.
#include <joule/ops/desc/activation.hpp>

namespace joule_test {

inline constexpr joule::activation kActivations[] = {joule::activation::none,      joule::activation::relu,
                                                     joule::activation::relu6,     joule::activation::gelu_erf,
                                                     joule::activation::gelu_tanh, joule::activation::tanh};

}  // namespace joule_test

#pragma once
/**
 * @file backend.hpp
 * @brief What a backend policy is: the joule::backend concept and the tag vocabulary.
 *
 * A policy is an empty tag type with static properties, in the style of xsimd's arch tags:
 *
 * @code
 * struct simd {
 *   using fallback = scalar;          // ops this backend leaves out are taken from here
 *   using memory_space = host_space;  // where its tensors live
 *   static constexpr const char* name() noexcept { return "simd"; }
 *   static bool available() noexcept;            // run time: CPU features, device present
 *   static std::string unavailable_reason();     // empty when available
 * };
 * @endcode
 */
#include <concepts>
#include <string>

#include <joule/core/memory_space.hpp>  // host_space, device_space

namespace joule {

/** @brief The end of a fallback chain: a policy whose fallback is this must implement every op. */
struct no_fallback {};

/** @brief A backend policy tag: names itself, says whether it can run here, names its fallback. */
template <class P>
concept backend = requires {
  typename P::fallback;
  typename P::memory_space;
  { P::name() } -> std::convertible_to<const char*>;
  { P::available() } -> std::same_as<bool>;
  { P::unavailable_reason() } -> std::convertible_to<std::string>;
};

}  // namespace joule

#pragma once
/** @file typelist.hpp @brief A minimal compile-time list of types (the enabled policies). */
#include <cstddef>
#include <type_traits>

namespace joule {

/** @brief A list of types; joule uses it for the policies compiled into this build. */
template <class... Ts>
struct typelist {
  static constexpr std::size_t size = sizeof...(Ts);
  /** @brief Calls f.template operator()<T>() for every T, in order. */
  template <class F>
  static constexpr void for_each(F&& f) {
    (f.template operator()<Ts>(), ...);
  }
};

namespace detail {
template <class List, class T>
struct push_back_if_impl;
template <class... Ts, class T>
struct push_back_if_impl<typelist<Ts...>, T> {
  using type = typelist<Ts..., T>;
};
}  // namespace detail

/** @brief @p List with @p T appended when @p Condition holds. */
template <class List, bool Condition, class T>
using push_back_if = std::conditional_t<Condition, typename detail::push_back_if_impl<List, T>::type, List>;

template <class List, class T>
struct contains;
template <class... Ts, class T>
struct contains<typelist<Ts...>, T> : std::bool_constant<(std::is_same_v<Ts, T> || ...)> {};

}  // namespace joule

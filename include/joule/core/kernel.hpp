#pragma once
/**
 * @file kernel.hpp
 * @brief How an operator finds its kernel: kernel<Op, P>, walked down P's fallback chain.
 *
 * An op front end (ops/gemm.hpp) checks shapes and calls kernel_for<gemm_op, P>::run(...). Each
 * backend specialises kernel<Op, P> in its own folder (policy/blas/gemm.hpp) for the ops it does
 * well; lookup walks P::fallback at compile time, so a policy inherits the rest. A policy with no
 * kernel for an op anywhere in its chain is a compile error with a readable message.
 */
#include <type_traits>

#include <joule/policy/backend.hpp>

namespace joule {

/**
 * @brief The kernel of operator @p Op for policy @p P. The primary template means "not
 * implemented here"; backends specialise it with a static run(context&, const Op&) function.
 */
template <class Op, class P>
struct kernel {
  using not_implemented = void;
};

/** @brief True when policy @p P itself (not its fallback) has a kernel for @p Op. */
template <class Op, class P>
concept has_own_kernel = !requires {
  typename kernel<Op, P>::not_implemented;
};

namespace detail {
template <class Op>
inline constexpr bool always_false = false;

template <class Op, class P, bool Own = has_own_kernel<Op, P>>
struct kernel_lookup;

template <class Op, class P>
struct kernel_lookup<Op, P, true> {
  using policy = P;
};

template <class Op, class P>
struct kernel_lookup<Op, P, false> {
  using policy = typename kernel_lookup<Op, typename P::fallback>::policy;
};

template <class Op, bool Own>
struct kernel_lookup<Op, no_fallback, Own> {
  static_assert(always_false<Op>,
                "joule: this operator has no kernel in the policy nor in any policy of its fallback chain; "
                "specialise joule::kernel<Op, Policy> in include/joule/policy/<backend>/<op>.hpp");
  using policy = no_fallback;
};
}  // namespace detail

/** @brief The policy whose kernel runs @p Op when @p P is asked (P itself or a fallback). */
template <class Op, class P>
using kernel_policy = typename detail::kernel_lookup<Op, P>::policy;

/** @brief The kernel that runs @p Op for @p P. */
template <class Op, class P>
using kernel_for = kernel<Op, kernel_policy<Op, P>>;

}  // namespace joule

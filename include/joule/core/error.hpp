#pragma once
/** @file error.hpp @brief joule::error and the helpers that build its messages. */
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace joule {

/**
 * @brief The one exception type joule throws for bad input and failed resources.
 *
 * Messages name what was wrong: the operator and the shapes involved, or the file and the offset
 * or key, so that a user can fix the input without reading joule's source.
 */
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

/** @brief Throws joule::error with the streamed concatenation of @p parts. */
template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  throw error(detail::concat(std::forward<Parts>(parts)...));
}

/**
 * @brief Throws joule::error built from @p parts when @p condition is false. The parts are
 * streamed only on failure, so pass objects (shapes, numbers), not strings built in advance: on a
 * hot path (run()) an argument like x.to_string() would allocate on every call.
 */
template <class... Parts>
void require(bool condition, Parts&&... parts) {
  if (!condition) fail(std::forward<Parts>(parts)...);
}

}  // namespace joule

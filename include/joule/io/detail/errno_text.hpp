#pragma once
/**
 * @file errno_text.hpp
 * @brief The message of an errno value for joule's file errors, safe to call from several threads.
 *
 * std::strerror may return a static buffer that another thread's call overwrites (glibc marks it
 * MT-Unsafe); the standard library's error category copies the message into a std::string.
 */
#include <string>
#include <system_error>

namespace joule::io::detail {

/** @brief "No space left on device" for ENOSPC, and so on. */
inline std::string errno_text(int error) { return std::generic_category().message(error); }

}  // namespace joule::io::detail

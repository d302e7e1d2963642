#pragma once
/**
 * @file check.hpp
 * @brief The argument checks op front ends run before a kernel sees any pointer.
 *
 * Every message starts with the operator's name and names the argument and its shape, so a user
 * can find the wrong input without reading joule's source.
 */
#include <cstdint>
#include <string>

#include <joule/core/error.hpp>
#include <joule/core/tensor.hpp>

namespace joule::detail {

/** @brief A view with elements must have a non-null pointer aligned for its element type. */
template <class T>
void check_view(const char* op, const char* arg, const tensor_view<T>& v) {
  if (v.numel() == 0) return;
  require(v.data() != nullptr, op, ": ", arg, " has shape ", v.shape(), " but a null data pointer");
  require(reinterpret_cast<std::uintptr_t>(v.data()) % alignof(std::remove_const_t<T>) == 0, op, ": ", arg,
          " data pointer is not aligned to ", alignof(std::remove_const_t<T>), " bytes");
}

template <class T>
void check_rank(const char* op, const char* arg, const tensor_view<T>& v, int rank) {
  require(v.rank() == rank, op, ": ", arg, " must have rank ", rank, ", got shape ", v.shape());
  check_view(op, arg, v);
}

template <class T>
void check_shape(const char* op, const char* arg, const tensor_view<T>& v, const shape& expected) {
  require(v.shape() == expected, op, ": ", arg, " must have shape ", expected, ", got ", v.shape());
  check_view(op, arg, v);
}

/** @brief Throws when the memory of @p out overlaps that of @p in (an alias the kernel cannot take). */
template <class T, class U>
void check_no_overlap(const char* op, const char* out_name, const tensor_view<T>& out, const char* in_name,
                      const tensor_view<U>& in) {
  if (out.numel() == 0 || in.numel() == 0) return;
  const auto* o0 = reinterpret_cast<const char*>(out.data());
  const auto* o1 = o0 + out.numel() * sizeof(T);
  const auto* i0 = reinterpret_cast<const char*>(in.data());
  const auto* i1 = i0 + in.numel() * sizeof(U);
  require(o1 <= i0 || i1 <= o0, op, ": ", out_name, " overlaps ", in_name, " in memory; use a separate output");
}

}  // namespace joule::detail

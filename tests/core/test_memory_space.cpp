// Memory spaces, from host code (g++): tensor<float> is host memory as it always was; moving a host
// tensor to the host space copies nothing (every CPU model prepares its weights that way); device
// tensors offer no element access; and with the toolkit, device memory either round-trips exactly
// (a device is present) or fails with a joule::error naming the CUDA call (none is), never a crash.
// The cuda policy's report says why it is unavailable.
#include <type_traits>

#include <joule/core/executor.hpp>
#include <joule/core/tensor.hpp>
#include <joule/policy/cuda.hpp>

#include "../common/testing.hpp"

namespace {

using joule::device_space;
using joule::host_space;
using joule::shape;
using joule::tensor;

static_assert(std::is_same_v<tensor<float>::memory_space, host_space>, "tensor<float> must stay host memory");
static_assert(std::is_same_v<tensor<float>, tensor<float, host_space>>);
template <class Tensor>
concept has_element_access = requires(Tensor t) {
  t[0];
  t.span();
};
static_assert(has_element_access<tensor<float>>);
static_assert(!joule::device_policy<joule::scalar> && joule::device_policy<joule::cuda>);
#if JOULE_HAS_CUDA
// Host code must not be able to read device memory by accident: no element access on device tensors.
static_assert(!has_element_access<tensor<float, device_space>>);
#endif

TEST(memory_space, moving_a_host_tensor_to_the_host_copies_nothing) {
  tensor<float> t(shape{2, 3}, {1, 2, 3, 4, 5, 6});
  const float* before = t.data();
  const tensor<float> moved = joule::to_space<host_space>(std::move(t));
  EXPECT_EQ(moved.data(), before);
  EXPECT_EQ(moved.shape(), (shape{2, 3}));
}

TEST(memory_space, copying_a_host_tensor_to_the_host_is_a_deep_copy) {
  const tensor<float> t(shape{3}, {1, 2, 3});
  const tensor<float> copy = joule::to_space<host_space>(t);
  EXPECT_NE(copy.data(), t.data());
  EXPECT_EQ(copy[2], 3.f);
  EXPECT_EQ(joule::copy_to_host(t)[1], 2.f);
}

TEST(memory_space, the_cuda_policy_says_why_it_is_unavailable) {
  const std::string reason = joule::cuda::unavailable_reason();
  EXPECT_EQ(joule::cuda::available(), reason.empty());
  if (joule::cuda::available()) return;
#if JOULE_HAS_CUDA
  EXPECT_NE(reason.find("cudaGetDeviceCount"), std::string::npos) << reason;
#else
  EXPECT_NE(reason.find("without the CUDA toolkit"), std::string::npos) << reason;
#endif
}

#if JOULE_HAS_CUDA
TEST(memory_space, device_tensors_round_trip_or_fail_clearly) {
  const tensor<float> host(shape{2, 2}, {1.5f, -2.f, 3.25f, 0.f});
  if (!joule::cuda::available()) {
    // No device: allocating device memory is a clear error, not a crash.
    joule_test::expect_error([] { tensor<float, device_space> d(shape{4}); }, "cudaMalloc");
    joule_test::expect_error([&] { joule::to_space<device_space>(host); }, "cudaMalloc");
    return;
  }
  const auto device = joule::to_space<device_space>(host);
  EXPECT_EQ(device.shape(), host.shape());
  const auto copy = device;  // device-to-device copy
  EXPECT_NE(copy.data(), device.data());
  const tensor<float> back = joule::copy_to_host(copy);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back[i], host[i]) << i;
  const tensor<float> zeros = joule::copy_to_host(tensor<float, device_space>(shape{3}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(zeros[i], 0.f) << "device tensors start zeroed, as host ones do";
  const tensor<float> via_view = joule::copy_to_host(device.cview(), device_space{});
  EXPECT_EQ(via_view[2], 3.25f);
}
#endif

}  // namespace

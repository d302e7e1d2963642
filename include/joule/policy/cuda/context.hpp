#pragma once
/**
 * @file context.hpp
 * @brief joule::context<cuda>: the stream, the cuBLAS and cuDNN handles, device scratch memory and
 * the per-geometry plans (cuDNN algorithm choices) the cuda policy's kernels run with.
 *
 * Every kernel launches on stream() only, and after one warm-up run neither allocates nor
 * synchronises nor chooses algorithms again, so a run can be captured into a CUDA graph: scratch
 * memory and plans are sized and chosen during the first run and reused. A context is used by one
 * host thread at a time, like the CPU policies' contexts.
 */
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <joule/core/context.hpp>
#include <joule/core/error.hpp>
#include <joule/policy/cuda.hpp>
#include <joule/policy/cuda/check.hpp>

namespace joule {

namespace cuda_detail {

/**
 * @brief What identifies a cached plan: the plan's type and up to 16 integers of geometry (sizes,
 * strides, options). Fixed size, so looking a plan up on the hot path allocates nothing.
 */
struct plan_key {
  const void* kind = nullptr;  ///< set by context<cuda>::plan from the plan's type
  std::array<std::int64_t, 16> values{};
  bool operator==(const plan_key&) const = default;
};

struct plan_key_hash {
  std::size_t operator()(const plan_key& key) const noexcept {
    std::size_t h = std::hash<const void*>{}(key.kind);
    for (std::int64_t v : key.values) h = h * 1000003u ^ std::hash<std::int64_t>{}(v);
    return h;
  }
};

/** @brief One address per plan type: the kind field of its keys. */
template <class Plan>
const void* plan_kind() noexcept {
  static const char tag = 0;
  return &tag;
}

/** @brief cuBLAS wants its own workspace set explicitly for graph capture; 32 MiB is NVIDIA's advice for Hopper. */
inline constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;
/** @brief Scratch grows in whole MiB, so a run of slightly growing requests does not reallocate each time. */
inline constexpr std::size_t kWorkspaceGranule = std::size_t{1} << 20;

}  // namespace cuda_detail

/**
 * @brief The state the cuda policy's kernels run with: a non-blocking stream, a cuBLAS handle and
 * a cuDNN handle bound to it, device scratch memory and cached per-geometry plans.
 *
 * Non-copyable; movable (a moved-from context may only be destroyed or assigned to). Float32 is
 * exact by default: TF32 tensor-core math is used only after set_allow_tf32(true).
 */
template <>
class context<cuda> {
 public:
  using policy = cuda;

  /**
   * @brief A context on the current device. @p threads (host threads) is accepted for the CPU
   * policies' signature and ignored. Throws joule::error with cuda::unavailable_reason() when no
   * device can be used, or naming the failing call when a stream or handle cannot be created.
   */
  explicit context(int threads = 0) : state_(std::make_unique<state>()) {
    require(threads >= 0, "context<cuda>: thread count must be >= 0, got ", threads);
    const std::string reason = cuda::unavailable_reason();
    require(reason.empty(), "context<cuda>: the cuda policy cannot run here: ", reason);
    state& s = *state_;
    JOULE_CUDA_CHECK(cudaGetDevice(&s.device), "context<cuda>");
    JOULE_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "context<cuda>");
    JOULE_CUBLAS_CHECK(cublasCreate(&s.cublas), "context<cuda>");
    JOULE_CUBLAS_CHECK(cublasSetStream(s.cublas, s.stream), "context<cuda>");
    JOULE_CUDA_CHECK(cudaMalloc(&s.cublas_workspace, cuda_detail::kCublasWorkspaceBytes),
                     "context<cuda>: ", cuda_detail::kCublasWorkspaceBytes, " bytes of cuBLAS workspace");
    JOULE_CUBLAS_CHECK(cublasSetWorkspace(s.cublas, s.cublas_workspace, cuda_detail::kCublasWorkspaceBytes),
                       "context<cuda>");
    JOULE_CUBLAS_CHECK(cublasSetMathMode(s.cublas, CUBLAS_DEFAULT_MATH), "context<cuda>");
    JOULE_CUDNN_CHECK(cudnnCreate(&s.cudnn), "context<cuda>");
    JOULE_CUDNN_CHECK(cudnnSetStream(s.cudnn, s.stream), "context<cuda>");
  }

  context(const context&) = delete;
  context& operator=(const context&) = delete;
  context(context&&) noexcept = default;
  context& operator=(context&&) noexcept = default;
  ~context() = default;

  /** @brief Host threads the context uses to launch: always 1. */
  int threads() const noexcept { return 1; }
  /** @brief The device this context was created on. */
  int device() const noexcept { return state_->device; }
  /** @brief The stream every kernel of this context launches on. */
  cudaStream_t stream() const noexcept { return state_->stream; }
  /** @brief The cuBLAS handle, bound to stream() and to its own workspace. */
  cublasHandle_t cublas() const noexcept { return state_->cublas; }
  /** @brief The cuDNN handle, bound to stream(). */
  cudnnHandle_t cudnn() const noexcept { return state_->cudnn; }

  /**
   * @brief Lets cuBLAS and cuDNN use TF32 tensor cores for float32 (10-bit mantissa products:
   * faster, no longer exact float32). Off by default. Plans chosen before the change are kept
   * apart from those chosen after it, since the setting is part of every plan's key.
   */
  void set_allow_tf32(bool on) {
    JOULE_CUBLAS_CHECK(cublasSetMathMode(state_->cublas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                       "context<cuda>::set_allow_tf32(", on, ")");
    state_->allow_tf32 = on;
  }
  bool allow_tf32() const noexcept { return state_->allow_tf32; }

  /** @brief True while stream() is being captured into a CUDA graph. */
  bool capturing() const {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    JOULE_CUDA_CHECK(cudaStreamIsCapturing(state_->stream, &status), "context<cuda>::capturing");
    return status != cudaStreamCaptureStatusNone;
  }

  /**
   * @brief Device scratch memory of at least @p bytes, valid until the next call of workspace()
   * (one buffer: a kernel asks once for all it needs and divides it). Grows only when too small,
   * after waiting for the work queued on the stream that may still use the old buffer; growing
   * while the stream is being captured throws joule::error (run once before capturing).
   */
  void* workspace(std::size_t bytes) {
    state& s = *state_;
    if (bytes <= s.workspace_bytes) return s.workspace;
    require(!capturing(), "context<cuda>: a kernel needs ", bytes, " bytes of device workspace but only ",
            s.workspace_bytes,
            " are reserved, and the stream is being captured into a CUDA graph, where "
            "memory cannot be allocated; run the model once before capturing it");
    const std::size_t grown =
        (bytes + cuda_detail::kWorkspaceGranule - 1) / cuda_detail::kWorkspaceGranule * cuda_detail::kWorkspaceGranule;
    JOULE_CUDA_CHECK(cudaStreamSynchronize(s.stream), "context<cuda>::workspace: waiting before growing it");
    if (s.workspace) JOULE_CUDA_CHECK(cudaFree(s.workspace), "context<cuda>::workspace");
    s.workspace = nullptr;
    s.workspace_bytes = 0;
    JOULE_CUDA_CHECK(cudaMalloc(&s.workspace, grown), "context<cuda>::workspace: ", grown, " bytes");
    s.workspace_bytes = grown;
    ++s.workspace_growths;
    return s.workspace;
  }
  /** @brief Bytes of device scratch memory currently reserved. */
  std::size_t workspace_bytes() const noexcept { return state_->workspace_bytes; }
  /** @brief How often workspace() has allocated: constant after a warm-up run. */
  std::size_t workspace_growths() const noexcept { return state_->workspace_growths; }

  /** @brief Waits for the work queued on stream() and throws joule::error if any of it failed. */
  void synchronize() {
    JOULE_CUDA_CHECK(cudaStreamSynchronize(state_->stream),
                     "context<cuda>::synchronize: a kernel queued on the stream failed");
  }

  /**
   * @brief The cached plan of type @p Plan for @p key, made by make() -> std::shared_ptr<Plan> on
   * the first call for that key (choosing a cuDNN algorithm, creating descriptors). Making a plan
   * while the stream is being captured throws joule::error: the choice may run and time kernels.
   */
  template <class Plan, class Make>
  Plan& plan(cuda_detail::plan_key key, Make&& make, const char* op) {
    key.kind = cuda_detail::plan_kind<Plan>();
    auto& plans = state_->plans;
    if (auto found = plans.find(key); found != plans.end()) return *static_cast<Plan*>(found->second.get());
    require(!capturing(), op,
            ": no plan for this geometry yet and the stream is being captured into a CUDA "
            "graph, where algorithms cannot be chosen; run the model once before capturing it");
    std::shared_ptr<Plan> made = std::forward<Make>(make)();
    Plan& result = *made;
    plans.emplace(key, std::move(made));
    ++state_->plans_made;
    return result;
  }
  /** @brief How many plans have been made: constant after a warm-up run. */
  std::size_t plans_made() const noexcept { return state_->plans_made; }

 private:
  struct state {
    int device = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
    cudnnHandle_t cudnn = nullptr;
    void* cublas_workspace = nullptr;
    void* workspace = nullptr;
    std::size_t workspace_bytes = 0, workspace_growths = 0, plans_made = 0;
    bool allow_tf32 = false;
    std::unordered_map<cuda_detail::plan_key, std::shared_ptr<void>, cuda_detail::plan_key_hash> plans;

    state() = default;
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    // Destruction cannot report errors: it waits for queued work so nothing still uses the
    // memory it frees, then releases everything in reverse order of creation.
    ~state() {
      if (stream) cudaStreamSynchronize(stream);
      plans.clear();
      if (cudnn) cudnnDestroy(cudnn);
      if (cublas) cublasDestroy(cublas);
      if (workspace) cudaFree(workspace);
      if (cublas_workspace) cudaFree(cublas_workspace);
      if (stream) cudaStreamDestroy(stream);
    }
  };
  std::unique_ptr<state> state_;
};

}  // namespace joule

#pragma once
/**
 * @file candidate.hpp
 * @brief What the chooser measures, without knowing about models: a candidate is a policy and a
 * thread count with a factory that builds something runnable on a fixed input, and whose last
 * output can be read for the correctness gate.
 *
 * choose() makes one candidate per (policy, threads) from a model family; tests make candidates
 * from lambdas (make_instance) with fake run times and outputs.
 */
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <joule/choose/wisdom.hpp>
#include <joule/core/memory_space.hpp>
#include <joule/core/tensor.hpp>

namespace joule {

/** @brief An executor of any policy behind one virtual call: what choose() returns. */
template <class Input>
class runner_base {
 public:
  virtual ~runner_base() = default;
  virtual tensor_view<const float> run(const Input& input) = 0;
  virtual std::string policy() const = 0;
  virtual int threads() const = 0;
  virtual double flops() const = 0;
};

}  // namespace joule

namespace joule::tuning {

/** @brief A compiled candidate with its input bound: run() runs one inference (one batch). */
class candidate_instance {
 public:
  virtual ~candidate_instance() = default;
  /** @brief Runs once on the bound input. */
  virtual void run() = 0;
  /** @brief The output of the last run(). */
  virtual tensor_view<const float> output() const = 0;
  /** @brief Floating-point operations of one run (0: unknown). */
  virtual double flops() const { return 0; }
  /** @brief Host-device copies of all run() calls so far (none for host policies). */
  virtual transfer_stats transfers() const { return {}; }
  /** @brief run() calls so far, so that transfers() can be given per run. */
  virtual std::int64_t runs() const { return 0; }
};

/** @brief One (policy, threads) to measure, or one that cannot run here and why. */
struct candidate {
  std::string policy;
  int threads = 1;
  std::string unavailable;  ///< non-empty: it cannot run here; listed with this reason, never measured
  bool uses_gpu = false;    ///< runs on a GPU: the GPU's model and driver are part of its wisdom key
  std::function<std::unique_ptr<candidate_instance>()> build;  ///< compiles it (may throw joule::error)

  /** @brief "policy/threads", as tables and charts label it. */
  std::string name() const { return policy + "/" + std::to_string(threads); }
};

namespace detail {
template <class Run, class Output>
class lambda_instance final : public candidate_instance {
 public:
  lambda_instance(Run run, Output output) : run_(std::move(run)), output_(std::move(output)) {}
  void run() override { run_(); }
  tensor_view<const float> output() const override { return output_(); }

 private:
  Run run_;
  Output output_;
};
}  // namespace detail

/** @brief A candidate_instance from two callables: run() and output() -> tensor_view<const float>. */
template <class Run, class Output>
std::unique_ptr<candidate_instance> make_instance(Run run, Output output) {
  return std::make_unique<detail::lambda_instance<Run, Output>>(std::move(run), std::move(output));
}

/** @brief A copy of a reference output, kept while the reference's executor is gone. */
struct reference_output {
  std::string name;  ///< "scalar/1"
  shape dims;
  std::vector<float> values;
};

/**
 * @brief The correctness gate: max |y - ref| / max |ref| over the output, against @p tolerance.
 * A shape mismatch, or a NaN or infinity in @p y where the reference is finite, fails with an
 * infinite error and says where.
 */
inline gate_record compare_outputs(const reference_output& ref, tensor_view<const float> y, double tolerance) {
  gate_record g;
  g.reference = ref.name;
  g.tolerance = tolerance;
  if (!(y.shape() == ref.dims)) {
    g.max_error = std::numeric_limits<double>::infinity();
    g.detail = "output shape " + y.shape().to_string() + " differs from the reference's " + ref.dims.to_string();
    return g;
  }
  double scale = 0, worst = 0;
  std::size_t worst_at = 0;
  const auto values = y.span();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double r = ref.values[i], v = values[i];
    if (std::isfinite(r)) scale = std::max(scale, std::abs(r));
    const bool same_special = (std::isnan(r) && std::isnan(v)) || (std::isinf(r) && r == v);
    if (same_special) continue;
    if (!std::isfinite(v) || !std::isfinite(r)) {
      g.max_error = std::numeric_limits<double>::infinity();
      g.detail =
          "element " + std::to_string(i) + " is " + std::to_string(v) + ", the reference has " + std::to_string(r);
      return g;
    }
    if (std::abs(v - r) > worst) worst = std::abs(v - r), worst_at = i;
  }
  g.max_error = scale > 0 ? worst / scale : worst;
  if (g.max_error > tolerance)
    g.detail = "element " + std::to_string(worst_at) + " is " + std::to_string(values[worst_at]) +
               ", the reference has " + std::to_string(ref.values[worst_at]);
  return g;
}

/** @brief Whether a gate record passes under @p tolerance. */
inline bool gate_passes(const gate_record& g, double tolerance) {
  return !g.reference.empty() && std::isfinite(g.max_error) && g.max_error <= tolerance;
}

/** @brief "max error 3.1e-02 > tolerance 1e-03 against scalar/1: element 7 is ..." */
inline std::string gate_summary(const gate_record& g) {
  char buffer[96];
  if (std::isfinite(g.max_error))
    std::snprintf(buffer, sizeof buffer, "max error %.2e %s tolerance %.0e", g.max_error,
                  g.max_error <= g.tolerance ? "<=" : ">", g.tolerance);
  else
    std::snprintf(buffer, sizeof buffer, "outputs not comparable");
  return std::string(buffer) + " against " + g.reference + (g.detail.empty() ? "" : ": " + g.detail);
}

}  // namespace joule::tuning

#pragma once
/**
 * @file choose.hpp
 * @brief joule::choose: compile a model for every available policy and thread count, measure
 * each on this machine (or reuse the wisdom file), and return the one that best meets the
 * objective, ready to run, with the whole table.
 *
 * @code
 * auto cfg = joule::models::resnet50_config();
 * auto w = joule::random_weights(joule::models::resnet<joule::scalar>{cfg}.manifest(), 0);
 * auto pick = joule::choose(joule::models::resnet_family{cfg}, w, {.batch = 1},
 *                           joule::objective::least_energy{.p95_bound_ms = 25});
 * std::cout << pick.report;             // every candidate: latency, J/inference (measured|estimated), ...
 * if (pick) auto out = pick.executor.run(image);  // the winner
 * @endcode
 *
 * The chosen executor's type depends on the policy measured best, so it is returned behind one
 * virtual call per run() (chosen_executor); to pin a policy at compile time with no dispatch at
 * all, use joule::compile<P> directly.
 */
#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <joule/choose/candidate.hpp>
#include <joule/choose/family.hpp>
#include <joule/choose/machine_key.hpp>
#include <joule/choose/objective.hpp>
#include <joule/choose/report.hpp>
#include <joule/choose/shootout.hpp>
#include <joule/choose/wisdom.hpp>
#include <joule/core/executor.hpp>
#include <joule/energy/probe.hpp>
#include <joule/policy/policies.hpp>

// A host (g++) program puts the GPU in the race through factories compiled once by nvcc
// (cuda_candidates.cu, added to the program by joule_add_cuda_candidates() in CMake).
#if JOULE_HAS_CUDA && JOULE_CUDA_CANDIDATES && !JOULE_CUDA_KERNELS
#include <joule/choose/cuda_candidates.hpp>
#endif

namespace joule {

namespace tuning::detail {
template <class Model>
class executor_runner final : public runner_base<typename Model::input_type> {
 public:
  executor_runner(Model model, const weights& w, const compile_options& o) : exec_(std::move(model), w, o) {}
  tensor_view<const float> run(const typename Model::input_type& input) override { return exec_.run(input); }
  std::string policy() const override { return Model::policy::name(); }
  int threads() const override { return exec_.options().threads; }
  double flops() const override { return exec_.flops(); }

 private:
  executor<Model> exec_;
};

/** A compiled model bound to the shootout's input, for measuring. */
template <class Model, class InputData>
class model_instance final : public candidate_instance {
 public:
  model_instance(Model model, const weights& w, const compile_options& o, std::shared_ptr<const InputData> input)
      : exec_(std::move(model), w, o), input_(std::move(input)) {}
  void run() override {
    output_ = exec_.run(input_->view());
    ++runs_;
  }
  tensor_view<const float> output() const override { return output_; }
  double flops() const override { return exec_.flops(); }
  transfer_stats transfers() const override { return exec_.transfers(); }
  std::int64_t runs() const override { return runs_; }

 private:
  executor<Model> exec_;
  std::shared_ptr<const InputData> input_;
  tensor_view<const float> output_;
  std::int64_t runs_ = 0;
};
}  // namespace tuning::detail

/**
 * @brief The winner of a shootout, compiled and ready: run() forwards to the chosen policy's
 * executor. Empty when nothing was chosen; run() then throws joule::error saying why.
 */
template <class Input>
class chosen_executor {
 public:
  chosen_executor() = default;
  chosen_executor(std::unique_ptr<runner_base<Input>> impl, std::string why_empty)
      : impl_(std::move(impl)), why_empty_(std::move(why_empty)) {}

  /** @brief Runs the chosen executor; the result lives until the next run(). */
  tensor_view<const float> run(const Input& input) {
    if (!impl_) fail("joule::choose: no executor was chosen: ", why_empty_);
    return impl_->run(input);
  }
  explicit operator bool() const noexcept { return impl_ != nullptr; }
  /** @brief The chosen policy's name, or "" when nothing was chosen. */
  std::string policy() const { return impl_ ? impl_->policy() : std::string(); }
  int threads() const { return impl_ ? impl_->threads() : 0; }
  double flops() const { return impl_ ? impl_->flops() : 0; }

 private:
  std::unique_ptr<runner_base<Input>> impl_;
  std::string why_empty_;
};

/** @brief What choose() returns: the winner ready to run, and the table that chose it. */
template <class Input>
struct choice {
  chosen_executor<Input> executor;
  tuning::shootout_report report;
  /** @brief Whether a candidate met the objective. */
  explicit operator bool() const noexcept { return static_cast<bool>(executor); }
};

/** @brief How choose() searches and measures. Defaults: every policy, 1..cores threads, 2 s each. */
struct choose_options {
  std::vector<std::string> policies;  ///< names to try; empty: every policy joule knows
  std::vector<int> threads;           ///< thread counts to try; empty: 1 .. hardware threads
  double budget_s = 2.0;              ///< measuring time per candidate (building excluded)
  double gate_tolerance = 1e-3;       ///< max |y - ref| / max |ref| against the reference output
  double target_ci = 0.05;            ///< stop a candidate early when its 95% CIs are this tight
  bool retune = false;                ///< measure even what the wisdom file holds
  bool wisdom_only = false;           ///< measure nothing: use the wisdom file or list as not measured
  bool use_wisdom = true;             ///< false: neither read nor write a wisdom file
  std::filesystem::path wisdom_path;  ///< empty: wisdom_file::default_path()
  energy::meter* meter = nullptr;     ///< null: energy::probe() picks this machine's best meter
  energy::sci_inputs sci;             ///< grid intensity and embodied emissions for SCI
  std::uint64_t input_seed = 1;       ///< seed of the generated input the gate compares outputs on
  std::function<void(const tuning::progress_event&)> on_progress;
  tuning::measure_function measure;  ///< replaces the measurement (tests); empty: energy::measure
};

namespace tuning {

/** @brief Thread counts to try: @p requested, or 1 .. hardware threads. */
inline std::vector<int> thread_candidates(const std::vector<int>& requested) {
  std::vector<int> out = requested;
  if (out.empty()) {
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    for (int t = 1; t <= cores; ++t) out.push_back(t);
  }
  for (int t : out) require(t >= 1, "joule::choose: thread counts must be >= 1, got ", t);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

/** @brief Policy names to try: @p requested (checked against the known policies), or all known. */
inline std::vector<std::string> policy_candidates(const std::vector<std::string>& requested) {
  std::vector<std::string> known;
  known_policies::for_each([&]<class P>() { known.emplace_back(P::name()); });
  if (requested.empty()) return known;
  std::vector<std::string> out;
  for (const auto& name : requested) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& k : known) list.append(list.empty() ? "" : ", ").append(k);
      fail("joule::choose: unknown policy '", name, "'; known policies: ", list);
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

/**
 * @brief Gives the weights when a candidate is first built, so that a shootout answered entirely
 * from wisdom never loads or generates them.
 */
using weights_source = std::function<const weights&()>;

/**
 * @brief Whether policy @p P spreads work over host threads: scalar is plain single-threaded
 * loops, and a device policy's work is on the GPU, whatever the host's thread count.
 */
template <class P>
inline constexpr bool threaded_policy = !std::is_same_v<P, scalar> && !device_policy<P>;

/**
 * @brief The candidates for @p family: one per (available policy, thread count), the unavailable
 * policies listed with their reason, the scalar policy once (it runs on one thread).
 */
template <class Family, class InputData>
std::vector<candidate> make_candidates(const Family& family, const weights_source& w, const compile_options& options,
                                       const std::vector<std::string>& policies, const std::vector<int>& threads,
                                       std::shared_ptr<const InputData> input, std::vector<std::string>& notes) {
  std::vector<candidate> out;
  for (const auto& name : policies) {
    known_policies::for_each([&]<class P>() {
      if (name != P::name()) return;
      if constexpr (!contains<compiled_policies, P>::value) {
#if JOULE_HAS_CUDA && JOULE_CUDA_CANDIDATES && !JOULE_CUDA_KERNELS
        if constexpr (std::is_same_v<P, cuda>) {
          if (P::available()) {
            candidate c;
            c.policy = name;
            c.uses_gpu = true;
            c.build = [&family, &w, options, input]() {
              return make_cuda_instance(family.config, w(), options, input);
            };
            out.push_back(std::move(c));
            return;
          }
        }
#endif
        candidate c;
        c.policy = name;
        c.unavailable = P::available()
                            ? std::string("its kernels are not compiled into this program (") + P::name() +
                                  " kernels need nvcc; build with JOULE_WITH_CUDA and compile this file as CUDA)"
                            : P::unavailable_reason();
        out.push_back(std::move(c));
      } else {
        if (!P::available()) {
          candidate c;
          c.policy = name;
          c.unavailable = P::unavailable_reason();
          out.push_back(std::move(c));
          return;
        }
        std::vector<int> counts = threads;
        if (!threaded_policy<P> && (counts.size() > 1 || counts.front() != 1)) {
          notes.push_back(std::string(P::name()) +
                          (device_policy<P> ? " runs on the GPU (host threads do not apply)"
                                            : " runs on one thread (plain loops)") +
                          ": measured at 1 thread only");
          counts = {1};
        }
        for (int t : counts) {
          candidate c;
          c.policy = name;
          c.threads = t;
          c.uses_gpu = std::is_same_v<typename P::memory_space, device_space>;
          c.build = [&family, &w, options, t, input]() -> std::unique_ptr<candidate_instance> {
            compile_options o = options;
            o.threads = t;
            return std::make_unique<detail::model_instance<decltype(family.template instantiate<P>()), InputData>>(
                family.template instantiate<P>(), w(), o, input);
          };
          out.push_back(std::move(c));
        }
      }
    });
  }
  return out;
}

/** @brief The wisdom key's model part for @p family compiled with @p options. */
template <class Family>
shootout_subject make_subject(const Family& family, const compile_options& options) {
  using traits = family_traits<std::remove_cvref_t<decltype(family.config)>>;
  shootout_subject subject;
  subject.model = family.config.name();
  subject.config_hash = config_hash(family.config);
  subject.input = traits::input_shape(family.config, options);
  subject.batch = options.batch;
  return subject;
}

/**
 * @brief The shootout choose() runs, without compiling the winner: the table alone. @p w is asked
 * for the weights only when a candidate has to be built (not at all when wisdom answers everything).
 */
template <class Family>
shootout_report shootout_for(const Family& family, const weights_source& w, const compile_options& options,
                             const objective_spec& objective, const choose_options& how) {
  using traits = family_traits<std::remove_cvref_t<decltype(family.config)>>;
  using input_data = typename traits::input_data;

  const shootout_subject subject = make_subject(family, options);

  auto input = std::make_shared<const input_data>(traits::make_input(family.config, options, how.input_seed));
  std::vector<std::string> notes;
  const auto candidates = make_candidates(family, w, options, policy_candidates(how.policies),
                                          thread_candidates(how.threads), input, notes);

  std::optional<energy::probe_result> probed;
  energy::meter* meter = how.meter;
  if (!meter) {
    probed = energy::probe();
    meter = probed->chosen.get();
  }
  std::optional<wisdom_file> wisdom;
  if (how.use_wisdom) wisdom.emplace(how.wisdom_path.empty() ? wisdom_file::default_path() : how.wisdom_path);

  shootout_options so;
  so.objective = objective;
  so.budget_s = how.budget_s;
  so.gate_tolerance = how.gate_tolerance;
  so.target_ci = how.target_ci;
  so.retune = how.retune;
  so.wisdom_only = how.wisdom_only;
  so.sci = how.sci;
  so.on_progress = how.on_progress;
  so.measure = how.measure;

  shootout_report report = run_shootout(subject, candidates, *meter, wisdom ? &*wisdom : nullptr, so);
  if (probed) report.meter_report = probed->report();
  report.notes.insert(report.notes.begin(), notes.begin(), notes.end());
  return report;
}

/**
 * @brief How many candidates of @p family a shootout with @p how would measure (not answered by
 * the wisdom file): for progress and time estimates. Builds nothing. What opening the wisdom file
 * found (a corrupt file set aside) is added to @p wisdom_notes.
 */
template <class Family>
std::size_t measurements_needed(const Family& family, const compile_options& options, const choose_options& how,
                                energy::meter& meter, const machine_key& machine = collect_machine_key(),
                                std::vector<std::string>* wisdom_notes = nullptr) {
  if (how.wisdom_only) return 0;
  using traits = family_traits<std::remove_cvref_t<decltype(family.config)>>;
  std::vector<std::string> notes;
  const weights_source none = []() -> const weights& { fail("measurements_needed: builds nothing"); };
  const auto candidates =
      make_candidates(family, none, options, policy_candidates(how.policies), thread_candidates(how.threads),
                      std::shared_ptr<const typename traits::input_data>(), notes);
  std::optional<wisdom_file> wisdom;
  if (how.use_wisdom && !how.retune)
    wisdom.emplace(how.wisdom_path.empty() ? wisdom_file::default_path() : how.wisdom_path);
  const shootout_subject subject = make_subject(family, options);
  if (wisdom && wisdom_notes) wisdom_notes->insert(wisdom_notes->end(), wisdom->notes().begin(), wisdom->notes().end());
  std::size_t needed = 0;
  for (const auto& c : candidates) {
    if (!c.unavailable.empty()) continue;
    const auto key = make_key(subject, c, machine, meter.kind(), c.uses_gpu);
    if (wisdom && wisdom->lookup(key).what == wisdom_lookup::status::found) continue;
    ++needed;
  }
  return needed;
}

}  // namespace tuning

/**
 * @brief Measures @p family compiled for every available policy and thread count (or reuses the
 * wisdom file), and returns the best by @p objective, compiled and ready to run, with the table.
 *
 * Every candidate's output on a generated input is compared with the scalar policy's (the
 * correctness gate) before it may win. Unavailable policies are listed with their reason. When no
 * candidate meets the objective's latency bound, nothing is chosen: the choice is empty, and
 * report.verdict says why.
 * @throws joule::error for invalid options (unknown policy, thread count < 1, bad budget) or if
 *         the winner cannot be compiled again.
 */
template <class Family>
auto choose(const Family& family, const weights& w, const compile_options& options,
            objective_spec objective = objective::least_energy{}, const choose_options& how = {}) {
  using input_type = typename decltype(family.template instantiate<scalar>())::input_type;
  choice<input_type> result;
  result.report = tuning::shootout_for(
      family, [&w]() -> const weights& { return w; }, options, objective, how);

  const tuning::shootout_row* winner = result.report.chosen();
  if (!winner) {
    result.executor = chosen_executor<input_type>(nullptr, result.report.verdict);
    return result;
  }
  compiled_policies::for_each([&]<class P>() {
    if (winner->policy != P::name()) return;
    compile_options o = options;
    o.threads = winner->threads;
    using model_type = decltype(family.template instantiate<P>());
    result.executor = chosen_executor<input_type>(
        std::make_unique<tuning::detail::executor_runner<model_type>>(family.template instantiate<P>(), w, o), {});
  });
#if JOULE_HAS_CUDA && JOULE_CUDA_CANDIDATES && !JOULE_CUDA_KERNELS
  if (!result.executor && winner->policy == cuda::name())
    result.executor = chosen_executor<input_type>(tuning::make_cuda_runner(family.config, w, options), {});
#endif
  return result;
}

}  // namespace joule

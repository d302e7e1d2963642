// joule-run: one reference model on one policy, from the command line.
//
//   joule-run --model resnet50 --policy simd [--weights resnet50.safetensors] [--input image.npy]
//             [--output logits.npy] [--batch 1] [--threads 2] [--repeat 20]
//   joule-run --model bert-base --policy blas --input ids.npy [--mask mask.npy] [--token-types types.npy]
//
// Inputs and outputs are NumPy .npy files: float32 NCHW images; for BERT int64 token ids [batch, seq],
// an optional int64 mask of ones and zeros and optional int64 token types. BERT's output is the last
// hidden state [batch, seq, hidden]. Without --input a deterministic input is generated; without
// --weights, deterministic random weights (seed --seed). Always prints the output's checksum; with
// --repeat N, also "latency_ms median=<x> p95=<y> runs=<N>" over N timed runs after a warm-up; and
// last "peak_rss_mb=<x>", the process's peak resident set (getrusage), weights generation included.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include "joule_run_options.hpp"
#include <joule/io/npy.hpp>
#include <joule/io/weights.hpp>
#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>

namespace {

using arguments = joule::cli::run_arguments;

template <class Executor, class Input>
void run_and_report(Executor& net, const Input& input, const arguments& args) {
  auto out = net.run(input);
  if (args.repeat > 0) {
    std::vector<double> ms;
    for (int i = 0; i < args.repeat; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      out = net.run(input);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms.size() % 2 ? ms[ms.size() / 2] : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
    const double p95 = ms[std::min(ms.size() - 1, static_cast<std::size_t>(std::ceil(0.95 * ms.size())) - 1)];
    std::printf("latency_ms median=%.3f p95=%.3f runs=%d\n", median, p95, args.repeat);
  }
  double sum = 0, abs_sum = 0;
  for (float v : out.span()) sum += v, abs_sum += std::abs(v);
  std::printf("output %s checksum sum=%.6e abs_sum=%.6e\n", out.shape().to_string().c_str(), sum, abs_sum);
  if (!args.output.empty()) joule::io::write_npy(args.output, out);
  if (const auto report = net.weights_report().to_string(); report != "all tensors used")
    std::cerr << "weights: " << report << "\n";
  // The whole process's resident-set high-water mark (getrusage), to compare with other runtimes'.
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) std::printf("peak_rss_mb=%.1f\n", usage.ru_maxrss / 1024.0);
}

template <class Model>
joule::weights weights_for(const Model& model, const arguments& args) {
  if (!args.weights.empty()) return joule::io::load_weights(args.weights);
  return joule::random_weights(model.manifest(), args.seed);
}

template <class P>
void run_vision(auto model, arguments args) {
  std::optional<joule::tensor<float>> image;
  if (!args.input.empty()) {
    image = joule::io::read_npy_f32(args.input);
    joule::require(image->rank() == 4 && image->dim(2) == image->dim(3), "--input must be [batch, 3, size, size], got ",
                   image->shape());
    args.batch = image->dim(0);
    args.image_size = image->dim(2);
  } else {
    image = joule::tensor<float>(joule::shape{args.batch, 3, args.image_size, args.image_size});
    joule::detail::splitmix64 rng(args.seed + 1);
    for (auto& x : image->span()) x = static_cast<float>(rng.normal());
  }
  // The host weights are handed over: compile frees each tensor once its layer has copied it.
  auto net = [&] {
    auto w = weights_for(model, args);  // before model is moved from
    return joule::compile(std::move(model), std::move(w),
                          {.batch = args.batch,
                           .image_size = args.image_size,
                           .threads = args.threads,
                           .images_at_once = args.images_at_once,
                           .band_bytes = args.band_bytes});
  }();
  run_and_report(net, image->cview(), args);
}

template <class P>
void run_bert(arguments args) {
  const auto config = joule::models::bert_base_config();
  std::optional<joule::tensor<std::int64_t>> ids, mask, types;
  if (!args.input.empty()) {
    ids = joule::io::read_npy_i64(args.input);
    joule::require(ids->rank() == 2, "--input must be token ids [batch, seq], got ", ids->shape());
    args.batch = ids->dim(0);
    args.seq_len = ids->dim(1);
  } else {
    ids = joule::tensor<std::int64_t>(joule::shape{args.batch, args.seq_len});
    joule::detail::splitmix64 rng(args.seed + 1);
    for (auto& id : ids->span()) id = static_cast<std::int64_t>(rng.next() % config.vocab);
  }
  if (!args.mask.empty()) mask = joule::io::read_npy_i64(args.mask);
  if (!args.token_types.empty()) types = joule::io::read_npy_i64(args.token_types);
  joule::models::bert<P> model{config};
  auto net = [&] {
    auto w = weights_for(model, args);  // before model is moved from
    return joule::compile(std::move(model), std::move(w),
                          {.batch = args.batch, .seq_len = args.seq_len, .threads = args.threads});
  }();
  run_and_report(
      net,
      joule::models::bert_input{ids->cview(), mask ? mask->cview() : joule::tensor_view<const std::int64_t>{},
                                types ? types->cview() : joule::tensor_view<const std::int64_t>{}},
      args);
}

template <class P>
void run_model(const arguments& args) {
  if (!P::available()) joule::fail("policy ", P::name(), " is unavailable here: ", P::unavailable_reason());
  if (args.model == "resnet50")
    run_vision<P>(joule::models::resnet<P>{joule::models::resnet50_config()}, args);
  else if (args.model == "mobilenet_v2")
    run_vision<P>(joule::models::mobilenet_v2<P>{joule::models::mobilenet_v2_default_config()}, args);
  else
    run_bert<P>(args);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"joule-run: run ResNet-50, MobileNetV2 or BERT-base on one joule policy"};
  arguments args;
  std::vector<std::string> policies;
  joule::known_policies::for_each([&]<class P>() { policies.push_back(P::name()); });
  joule::cli::add_run_options(app, args, policies);
  CLI11_PARSE(app, argc, argv);
  try {
    bool ran = false;
    joule::cpu_policies::for_each([&]<class P>() {
      if (args.policy == P::name()) run_model<P>(args), ran = true;
    });
    if (!ran) {
      joule::known_policies::for_each([&]<class P>() {
        if (args.policy == P::name())
          joule::fail("policy ", P::name(), " is not built into joule-run: ",
                      P::unavailable_reason().empty() ? "its kernels need nvcc" : P::unavailable_reason());
      });
    }
  } catch (const std::exception& e) {
    std::cerr << "joule-run: error: " << e.what() << "\n";
    return 1;
  }
}

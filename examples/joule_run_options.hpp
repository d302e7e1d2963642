#pragma once
/**
 * @file joule_run_options.hpp
 * @brief joule-run's command line: its arguments and their CLI11 definitions, apart from running
 * anything, so that the fuzzer (tests/fuzz/fuzz_run_cli.cpp) parses exactly what the tool parses.
 */
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace joule::cli {

/** @brief What joule-run was asked to do. */
struct run_arguments {
  std::string model = "resnet50", policy = "simd", weights, input, mask, token_types, output;
  std::int64_t batch = 1, seq_len = 128, image_size = 224, images_at_once = 0, band_bytes = 0;
  int threads = 0, repeat = 0;
  std::uint64_t seed = 0;
};

/** @brief Adds joule-run's options, writing into @p args; @p policies are the accepted --policy names. */
inline void add_run_options(CLI::App& app, run_arguments& args, const std::vector<std::string>& policies) {
  app.add_option("--model", args.model, "resnet50 | mobilenet_v2 | bert-base")
      ->check(CLI::IsMember({"resnet50", "mobilenet_v2", "bert-base"}));
  app.add_option("--policy", args.policy, "backend policy")->check(CLI::IsMember(policies));
  app.add_option("--weights", args.weights, "safetensors checkpoint (torchvision / Hugging Face names)")
      ->check(CLI::ExistingFile);
  app.add_option("--input", args.input, ".npy input: float32 NCHW image, or int64 token ids for BERT")
      ->check(CLI::ExistingFile);
  app.add_option("--mask", args.mask, "BERT: .npy int64 attention mask of ones and zeros")->check(CLI::ExistingFile);
  app.add_option("--token-types", args.token_types, "BERT: .npy int64 token type ids")->check(CLI::ExistingFile);
  app.add_option("--output", args.output, "write the output to this .npy file");
  app.add_option("--batch", args.batch, "batch size when no --input is given")->check(CLI::Range(1, 4096));
  app.add_option("--seq-len", args.seq_len, "BERT: tokens per sequence when no --input is given")
      ->check(CLI::Range(1, 512));
  app.add_option("--image-size", args.image_size, "vision: input height and width when no --input is given")
      ->check(CLI::Range(32, 4096));
  app.add_option("--images-at-once", args.images_at_once,
                 "vision: images taken through the network together (0: the policy's default)")
      ->check(CLI::Range(0, 4096));
  app.add_option("--band-bytes", args.band_bytes,
                 "MobileNetV2: activations one thread's band of rows may hold (0: the default, 1 MiB)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 40));
  app.add_option("--threads", args.threads, "threads (0: every core)")->check(CLI::Range(0, 1024));
  app.add_option("--repeat", args.repeat, "timed runs after one warm-up")->check(CLI::Range(0, 1000000));
  app.add_option("--seed", args.seed, "seed of the random weights and the generated input");
}

}  // namespace joule::cli

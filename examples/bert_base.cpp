// BERT-base on the blas policy: load a Hugging Face checkpoint (BertModel names, with or without
// "bert.") if one is given, else random weights; encode token ids with an attention mask and print
// the first token's hidden state (the [CLS] embedding) summary.
//
//   bert_base [bert.safetensors [ids.npy [mask.npy]]]     ids, mask: int64 [batch, seq]
#include <cmath>
#include <iostream>

#include <joule/joule.hpp>

int main(int argc, char** argv) try {
  using policy = joule::blas;
  joule::models::bert<policy> model{joule::models::bert_base_config()};
  const joule::weights w = argc > 1 ? joule::io::load_weights(argv[1]) : joule::random_weights(model.manifest(), 0);

  joule::tensor<std::int64_t> ids(joule::shape{2, 32});
  joule::tensor<std::int64_t> mask(joule::shape{2, 32});
  for (std::int64_t i = 0; i < ids.numel(); ++i) ids[i] = 1000 + i, mask[i] = i % 32 < 24 ? 1 : 0;  // 8 padding
  if (argc > 2) ids = joule::io::read_npy_i64(argv[2]);
  if (argc > 3) mask = joule::io::read_npy_i64(argv[3]);

  auto net = joule::compile<policy>(std::move(model), w, {.batch = ids.dim(0), .seq_len = ids.dim(1)});
  if (!net.weights_report().ignored.empty()) std::cerr << "weights: " << net.weights_report().to_string() << "\n";
  const auto hidden = net.run({ids.cview(), mask.cview()});  // [batch, seq, 768]

  for (std::int64_t b = 0; b < hidden.dim(0); ++b) {
    const float* cls = hidden.data() + b * hidden.dim(1) * 768;
    double norm = 0;
    for (int j = 0; j < 768; ++j) norm += double(cls[j]) * cls[j];
    std::cout << "sequence " << b << ": |[CLS]| = " << std::sqrt(norm) << "\n";
  }
} catch (const std::exception& e) {
  std::cerr << "bert_base: " << e.what() << "\n";
  return 1;
}

// Builds against the installed package and runs a small linear layer on every compiled CPU policy.
#include <cmath>
#include <iostream>

#include <joule/joule.hpp>

int main() {
  const joule::tensor<float> x(joule::shape{1, 3}, {1.f, 2.f, 3.f});
  const joule::tensor<float> w(joule::shape{2, 3}, {1.f, 0.f, -1.f, 0.5f, 0.5f, 0.5f});
  const joule::tensor<float> b(joule::shape{2}, {0.25f, -1.f});
  int failures = 0;
  joule::cpu_policies::for_each([&]<class P>() {
    if (!P::available()) return;
    joule::context<P> ctx(1);
    joule::tensor<float> y(joule::shape{1, 2});
    joule::ops::linear(ctx, x.cview(), w.cview(), b.cview(), y.view(), joule::activation::relu);
    const bool ok = std::abs(y[0] - 0.f) < 1e-6f && std::abs(y[1] - 2.f) < 1e-6f;  // relu(-1.75), relu(2)
    std::cout << P::name() << ": " << (ok ? "ok" : "WRONG") << "\n";
    failures += !ok;
  });
  return failures;
}

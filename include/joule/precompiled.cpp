// The definitions joule/core/precompiled.hpp declares: the three reference models and their
// executors, their nn layers and the operators' entry points, for every host policy compiled in,
// generated once for a whole program. Compile it with JOULE_PRECOMPILED_MODELS=1 and the same
// backends and flags as the files that use them. Each header's last lines, which declare its
// instantiations extern elsewhere, define them here.
#define JOULE_DETAIL_PRECOMPILED_DEFINITIONS 1
#include <joule/core/precompiled.hpp>

#if !JOULE_PRECOMPILED_MODELS
#error "joule/precompiled.cpp must be compiled with JOULE_PRECOMPILED_MODELS=1, like the files that use it"
#endif

#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>
#include <joule/ops/attention.hpp>
#include <joule/ops/batched_matmul.hpp>
#include <joule/ops/conv2d.hpp>
#include <joule/ops/gemm.hpp>

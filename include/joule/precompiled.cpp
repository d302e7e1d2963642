// The definitions joule/core/precompiled.hpp declares: the three reference models and their
// executors, their nn layers and the operators' entry points, for every host policy compiled in,
// generated once for a whole program. Compile it with JOULE_PRECOMPILED_MODELS=1 and the same
// backends and flags as the files that use them.
#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/core/precompiled.hpp>
#include <joule/models/resnet.hpp>
#include <joule/ops/attention.hpp>
#include <joule/ops/batched_matmul.hpp>
#include <joule/ops/conv2d.hpp>
#include <joule/ops/gemm.hpp>

JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_FUNCTION, JOULE_DETAIL_CONV2D)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_FUNCTION, JOULE_DETAIL_GEMM)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_FUNCTION, JOULE_DETAIL_LINEAR)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_FUNCTION, JOULE_DETAIL_BATCHED_MATMUL)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_FUNCTION, JOULE_DETAIL_ATTENTION)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_FUNCTION, JOULE_DETAIL_ATTENTION_FUSED_QKV)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_CLASS, nn::linear)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_CLASS, nn::conv_bn_act)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_CLASS, nn::inverted_residual)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_MODEL, resnet)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_MODEL, mobilenet_v2)
JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_INSTANTIATE_MODEL, bert)

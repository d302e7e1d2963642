#pragma once
/**
 * @file joule.hpp
 * @brief Everything joule offers, in one include: core, policies, operators, layers, the
 * reference models and file I/O. (Energy meters and the chooser have their own umbrella headers,
 * joule/energy.hpp and joule/choose.hpp, as they pull in system interfaces.)
 */
#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/error.hpp>
#include <joule/core/executor.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/shape.hpp>
#include <joule/core/tensor.hpp>
#include <joule/core/thread_pool.hpp>
#include <joule/core/typelist.hpp>
#include <joule/core/weights.hpp>
#include <joule/policy/policies.hpp>

#include <joule/ops/activation.hpp>
#include <joule/ops/add.hpp>
#include <joule/ops/attention.hpp>
#include <joule/ops/batch_norm.hpp>
#include <joule/ops/batched_matmul.hpp>
#include <joule/ops/conv2d.hpp>
#include <joule/ops/conv2d_max_pool.hpp>
#include <joule/ops/depthwise_channels_last.hpp>
#include <joule/ops/embedding.hpp>
#include <joule/ops/gemm.hpp>
#include <joule/ops/layer_norm.hpp>
#include <joule/ops/pool2d.hpp>
#include <joule/ops/softmax.hpp>

#include <joule/nn/conv_bn_act.hpp>
#include <joule/nn/linear.hpp>

#include <joule/models/bert.hpp>
#include <joule/models/mobilenet_v2.hpp>
#include <joule/models/resnet.hpp>

#include <joule/io/npy.hpp>
#include <joule/io/safetensors.hpp>
#include <joule/io/weights.hpp>

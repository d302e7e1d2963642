#pragma once
/**
 * @file joule.hpp
 * @brief Everything joule offers, in one include.
 */
#include <joule/config.hpp>
#include <joule/core/check.hpp>
#include <joule/core/context.hpp>
#include <joule/core/error.hpp>
#include <joule/core/kernel.hpp>
#include <joule/core/shape.hpp>
#include <joule/core/tensor.hpp>
#include <joule/core/thread_pool.hpp>
#include <joule/core/typelist.hpp>
#include <joule/policy/policies.hpp>

#include <joule/ops/gemm.hpp>

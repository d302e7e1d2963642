#pragma once
/**
 * @file precompiled.hpp
 * @brief Opt-in separate compilation of the reference models and their heaviest layers and
 * operators, for programs of many files.
 *
 * joule is header-only, so every translation unit that runs a model, a convolution or a GEMM
 * generates the code of its kernels again: GCC -O2 spent about 75 of test_models.cpp's 125 seconds
 * on that, and a sanitizer build takes three times as long. A program of several such files
 * (joule's own tests, tools and benchmarks) can have it generated once:
 *
 * - every file is compiled with JOULE_PRECOMPILED_MODELS=1: the headers then declare their
 *   host-policy instantiations `extern template` (the models and their executors, the nn layers
 *   and the operators' entry points, each at the end of its own header), so the files only call
 *   them;
 * - joule/precompiled.cpp, compiled once with the same JOULE_HAS_* backends and the same
 *   code-generation flags (-march, sanitizers), instantiates them.
 *
 * In joule's own CMake build that is the static library joule_precompiled_models. Programs that do
 * not define the macro are unaffected. The cuda policy is not covered: its models come from nvcc
 * (see joule/choose/cuda_candidates.hpp).
 */
#include <joule/config.hpp>

#ifndef JOULE_PRECOMPILED_MODELS
#define JOULE_PRECOMPILED_MODELS 0
#endif

// X(what, policy) once per host policy compiled in.
#if JOULE_HAS_SIMD
#define JOULE_DETAIL_IF_SIMD(...) __VA_ARGS__
#else
#define JOULE_DETAIL_IF_SIMD(...)
#endif
#if JOULE_HAS_BLAS
#define JOULE_DETAIL_IF_BLAS(...) __VA_ARGS__
#else
#define JOULE_DETAIL_IF_BLAS(...)
#endif
#if JOULE_HAS_EIGEN
#define JOULE_DETAIL_IF_EIGEN(...) __VA_ARGS__
#else
#define JOULE_DETAIL_IF_EIGEN(...)
#endif
#define JOULE_DETAIL_FOR_HOST_POLICIES(X, what) \
  X(what, scalar)                               \
  JOULE_DETAIL_IF_SIMD(X(what, simd))           \
  JOULE_DETAIL_IF_BLAS(X(what, blas))           \
  JOULE_DETAIL_IF_EIGEN(X(what, eigen))

// A model for one policy and its executor; a class template of one policy (nn::linear); a function
// template's instantiation, given as a macro of the policy that spells its declaration.
#define JOULE_DETAIL_EXTERN_MODEL(model, policy)                 \
  extern template class ::joule::models::model<::joule::policy>; \
  extern template class ::joule::executor<::joule::models::model<::joule::policy>>;
#define JOULE_DETAIL_INSTANTIATE_MODEL(model, policy)     \
  template class ::joule::models::model<::joule::policy>; \
  template class ::joule::executor<::joule::models::model<::joule::policy>>;
#define JOULE_DETAIL_EXTERN_CLASS(name, policy) extern template class ::joule::name<::joule::policy>;
#define JOULE_DETAIL_INSTANTIATE_CLASS(name, policy) template class ::joule::name<::joule::policy>;
#define JOULE_DETAIL_EXTERN_FUNCTION(declaration, policy) extern template declaration(::joule::policy);
#define JOULE_DETAIL_INSTANTIATE_FUNCTION(declaration, policy) template declaration(::joule::policy);

/**
 * @brief At the end of a header, with JOULE_PRECOMPILED_MODELS: a model's, a class template's or a
 * function template's host-policy instantiations are declared extern (precompiled.cpp defines them).
 */
#if JOULE_PRECOMPILED_MODELS
#define JOULE_DETAIL_DECLARE_PRECOMPILED_MODEL(model) JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_EXTERN_MODEL, model)
#define JOULE_DETAIL_DECLARE_PRECOMPILED_CLASS(name) JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_EXTERN_CLASS, name)
#define JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(declaration) \
  JOULE_DETAIL_FOR_HOST_POLICIES(JOULE_DETAIL_EXTERN_FUNCTION, declaration)
#else
#define JOULE_DETAIL_DECLARE_PRECOMPILED_MODEL(model)
#define JOULE_DETAIL_DECLARE_PRECOMPILED_CLASS(name)
#define JOULE_DETAIL_DECLARE_PRECOMPILED_FUNCTION(declaration)
#endif

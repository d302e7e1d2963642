# Resolves JOULE_WITH_<B> (AUTO/ON/OFF) into JOULE_HAS_<B> (0/1) by looking for each backend's
# dependency, and links the found ones into the INTERFACE target.
function(joule_resolve_backend name found)
  set(mode ${JOULE_WITH_${name}})
  if(mode STREQUAL "OFF")
    set(JOULE_HAS_${name} 0 PARENT_SCOPE)
  elseif(found)
    set(JOULE_HAS_${name} 1 PARENT_SCOPE)
  elseif(mode STREQUAL "ON")
    message(FATAL_ERROR "JOULE_WITH_${name}=ON but its dependency was not found")
  else()
    set(JOULE_HAS_${name} 0 PARENT_SCOPE)
  endif()
endfunction()

if(NOT JOULE_WITH_SIMD STREQUAL "OFF")
  include(joule_xsimd)
endif()
if(TARGET joule::xsimd)
  set(_joule_simd_found TRUE)
endif()
joule_resolve_backend(SIMD "${_joule_simd_found}")

if(NOT JOULE_WITH_BLAS STREQUAL "OFF")
  include(joule_openblas)
endif()
if(TARGET joule::openblas)
  set(_joule_blas_found TRUE)
endif()
joule_resolve_backend(BLAS "${_joule_blas_found}")

if(NOT JOULE_WITH_EIGEN STREQUAL "OFF")
  find_package(Eigen3 3.4 QUIET NO_MODULE)
endif()
joule_resolve_backend(EIGEN "${Eigen3_FOUND}")

# CUDA: the toolkit's compiler must work (check_language builds a test file) and CUDAToolkit must
# find cudart and cuBLAS; cuDNN is looked up beside them. Debian installs the toolkit under
# /usr/local/cuda without putting nvcc on PATH, so that nvcc is the hint when none is on PATH.
if(NOT JOULE_WITH_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    find_program(_joule_nvcc_on_path nvcc)
    if(NOT _joule_nvcc_on_path)
      set(ENV{CUDACXX} /usr/local/cuda/bin/nvcc)
    endif()
  endif()
  # Architecture detection needs a GPU, and the machines that build joule (CI included) have none:
  # compile for Ampere (sm_80: A100) and Hopper (sm_90: H100/H200) unless told otherwise. Each
  # architecture is a full device compile of every CUDA translation unit, so a one-GPU user (or CI,
  # with two cores) may pass -DCMAKE_CUDA_ARCHITECTURES=90 to halve nvcc's time.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "CUDA architectures joule's CUDA code is compiled for")
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit QUIET)
    if(CUDAToolkit_FOUND)
      include(${CMAKE_CURRENT_LIST_DIR}/joule_cudnn.cmake)
    endif()
  endif()
endif()
if(CUDAToolkit_FOUND AND TARGET CUDA::cublas AND TARGET joule::cudnn)
  set(_joule_cuda_found TRUE)
endif()
joule_resolve_backend(CUDA "${_joule_cuda_found}")

function(joule_link_backends target)
  target_compile_definitions(${target} INTERFACE
    JOULE_HAS_SIMD=${JOULE_HAS_SIMD} JOULE_HAS_BLAS=${JOULE_HAS_BLAS}
    JOULE_HAS_EIGEN=${JOULE_HAS_EIGEN} JOULE_HAS_CUDA=${JOULE_HAS_CUDA})
  if(JOULE_HAS_SIMD)
    target_link_libraries(${target} INTERFACE joule::xsimd)
  endif()
  if(JOULE_HAS_BLAS)
    target_link_libraries(${target} INTERFACE joule::openblas)
  endif()
  if(JOULE_HAS_EIGEN)
    target_link_libraries(${target} INTERFACE Eigen3::Eigen)
  endif()
  if(JOULE_HAS_CUDA)
    target_link_libraries(${target} INTERFACE CUDA::cudart CUDA::cublas joule::cudnn)
    # nvcc translation units need C++20 as the host ones do; the CUDA feature is only requested
    # where CUDA is compiled, so consumers without the CUDA language are not asked for it.
    target_compile_options(${target} INTERFACE "$<$<COMPILE_LANGUAGE:CUDA>:--std=c++20;--expt-relaxed-constexpr>")
  endif()
endfunction()

# joule_add_cuda_candidates(<target>): puts the cuda policy in <target>'s chooser. Links the object
# library joule_cuda_candidates (joule/choose/cuda_candidates.cu: the cuda models, compiled by nvcc
# once per build tree however many targets use it) and defines JOULE_CUDA_CANDIDATES=1, so that
# joule::choose and the shootout in host-compiled files measure the GPU through its factories.
# Does nothing when joule has no CUDA.
function(joule_add_cuda_candidates target)
  if(NOT JOULE_HAS_CUDA)
    return()
  endif()
  if(NOT TARGET joule_cuda_candidates)
    add_library(joule_cuda_candidates OBJECT ${JOULE_CUDA_CANDIDATES_SOURCE})
    target_link_libraries(joule_cuda_candidates PUBLIC joule::joule)
    target_compile_definitions(joule_cuda_candidates PUBLIC JOULE_CUDA_CANDIDATES=1)
  endif()
  target_link_libraries(${target} PRIVATE joule_cuda_candidates)
endfunction()

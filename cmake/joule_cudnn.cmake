# Finds cuDNN (library `cudnn`, header cudnn.h) next to the CUDA toolkit and defines the imported
# target joule::cudnn. CUDAToolkit has no cuDNN component and Debian ships no FindCUDNN, so this is
# the one place that knows where it lives. Used by joule's build and by the installed jouleConfig.
if(TARGET joule::cudnn)
  return()
endif()
find_path(JOULE_CUDNN_INCLUDE_DIR cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ${CUDAToolkit_TARGET_DIR}/include)
find_library(JOULE_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_TARGET_DIR}/lib64)
if(JOULE_CUDNN_INCLUDE_DIR AND JOULE_CUDNN_LIBRARY)
  add_library(joule::cudnn UNKNOWN IMPORTED)
  set_target_properties(joule::cudnn PROPERTIES IMPORTED_LOCATION "${JOULE_CUDNN_LIBRARY}"
                                                INTERFACE_INCLUDE_DIRECTORIES "${JOULE_CUDNN_INCLUDE_DIR}")
endif()

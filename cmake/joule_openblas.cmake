# Debian's OpenBLAS ships a CMake config that sets variables but defines no target; this wraps it
# in the imported target joule::openblas, both for joule's build and for consumers of the package.
if(NOT TARGET joule::openblas)
  find_package(OpenBLAS CONFIG QUIET)
  if(OpenBLAS_FOUND AND OpenBLAS_LIBRARIES)
    add_library(joule::openblas INTERFACE IMPORTED)
    set_target_properties(joule::openblas PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${OpenBLAS_INCLUDE_DIRS}"
      INTERFACE_LINK_LIBRARIES "${OpenBLAS_LIBRARIES}")
  endif()
endif()

# Debian's xsimd 8.1 exports its target with a link to a library named "xtl" that only exists when
# xtl's own package is installed and found first; xsimd itself is header-only and joule uses no
# xtl type. This wraps xsimd's include directories in joule::xsimd, for joule and its consumers.
if(NOT TARGET joule::xsimd)
  find_package(xsimd 8.1 QUIET)
  if(TARGET xsimd)
    get_target_property(_joule_xsimd_includes xsimd INTERFACE_INCLUDE_DIRECTORIES)
    add_library(joule::xsimd INTERFACE IMPORTED)
    set_target_properties(joule::xsimd PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_joule_xsimd_includes}")
  endif()
endif()

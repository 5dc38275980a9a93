# Include paths that keep each directory's internals to itself (DESIGN.md,
# "Layers").
#
# Sources include project headers by their path from the repository root
# ("core/store.h"), but no target has the repository root on its include
# path. A target sees
#   - its own directory whole, through the link
#     build/layers/<target>/<dir> → the source directory (acidfs_layer);
#   - of each library it links, only the headers that library names as its
#     API, linked one by one into build/api/<library>/<dir>/ (acidfs_api);
#   - include/ (the ioctl ABI), through acidfs_core.
# So a file in fuse/ that includes "core/meta_db.h" does not compile:
# meta_db.h is not in core's API. Tests and benchmarks of a library's parts
# link <library>_internals, which sees the whole directory.

# TARGET's sources see the headers of their own directory.
function(acidfs_layer target)
  file(RELATIVE_PATH dir ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(root ${CMAKE_BINARY_DIR}/layers/${target})
  file(REMOVE_RECURSE ${root})
  file(MAKE_DIRECTORY ${root})
  file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR} ${root}/${dir} SYMBOLIC)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} BEFORE INTERFACE ${root})
  else()
    target_include_directories(${target} BEFORE PRIVATE ${root})
  endif()
endfunction()

# The headers of TARGET's directory that other directories may include. Each
# must include only API headers itself, or its users fail to compile.
function(acidfs_api target)
  file(RELATIVE_PATH dir ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(root ${CMAKE_BINARY_DIR}/api/${target})
  file(REMOVE_RECURSE ${root})
  file(MAKE_DIRECTORY ${root}/${dir})
  foreach(header ${ARGN})
    if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${header})
      message(FATAL_ERROR "${dir}/CMakeLists.txt names ${header} as API, but ${dir}/${header} does not exist")
    endif()
    file(CREATE_LINK ${CMAKE_CURRENT_SOURCE_DIR}/${header} ${root}/${dir}/${header} SYMBOLIC)
  endforeach()
  target_include_directories(${target} PUBLIC ${root})
endfunction()

# <TARGET>_internals: TARGET with every header of its directory, for the
# tests and benchmarks of its parts. Its directory comes first on the path,
# so each header is reached by one path only.
function(acidfs_internals target)
  add_library(${target}_internals INTERFACE)
  target_include_directories(${target}_internals BEFORE INTERFACE ${CMAKE_BINARY_DIR}/layers/${target})
  target_link_libraries(${target}_internals INTERFACE ${target})
endfunction()

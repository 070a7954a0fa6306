# mps_module(<name> <dir> SOURCES ... DEPS <module names> [EXTERNAL <targets>])
#
# Declares one module of the library: an OBJECT library `mps_<name>` built from
# <dir>, and an INTERFACE target `mps_<name>_iface` that carries its include
# path and, transitively, those of the modules it declares in DEPS.
#
# Headers are included by their path from the repository root ("arena/arena.hpp").
# A module's include path holds only a link to its own folder, so a module that
# includes a header of a module it did not declare fails to compile: the
# dependency table of the design brief is enforced by the build.
function(mps_module name dir)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;EXTERNAL" ${ARGN})
  set(stage "${CMAKE_BINARY_DIR}/module-include/${name}")
  get_filename_component(parent "${stage}/${dir}" DIRECTORY)
  file(MAKE_DIRECTORY "${parent}")
  if(NOT EXISTS "${stage}/${dir}")
    file(CREATE_LINK "${CMAKE_SOURCE_DIR}/${dir}" "${stage}/${dir}" SYMBOLIC)
  endif()

  add_library(mps_${name}_iface INTERFACE)
  target_include_directories(mps_${name}_iface INTERFACE "$<BUILD_INTERFACE:${stage}>")
  foreach(dep IN LISTS M_DEPS)
    target_link_libraries(mps_${name}_iface INTERFACE mps_${dep}_iface)
  endforeach()
  target_link_libraries(mps_${name}_iface INTERFACE ${M_EXTERNAL})

  add_library(mps_${name} OBJECT ${M_SOURCES})
  target_link_libraries(mps_${name} PRIVATE mps_${name}_iface mps_build_flags)
  set_target_properties(mps_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  set_property(GLOBAL APPEND PROPERTY MPS_MODULE_TARGETS mps_${name})
  set_property(GLOBAL APPEND PROPERTY MPS_MODULE_EXTERNAL ${M_EXTERNAL})
endfunction()

# Packaging: install rules, the exported CMake package `mps`, and `mps.pc`.
#
# Included at the end of the top-level CMakeLists.txt, after `mps` (shared) and
# `mps_static` (static, OUTPUT_NAME mps) exist and `module_external` holds every
# external link dependency the modules declared (mps_module ... EXTERNAL ...).
#
# What gets installed (under the prefix given to `cmake --install --prefix`):
#   <libdir>/libmps.so*, <libdir>/libmps.a
#   <includedir>/*.h and <includedir>/mps/**        public headers
#   <libdir>/cmake/mps/mps{Config,ConfigVersion,Targets*}.cmake
#                                                    find_package(mps): mps::mps, mps::mps_static
#   <libdir>/pkgconfig/mps.pc                        links the static library
#
# External dependencies are handled generically, so a module adding one needs no
# change here. Each entry of EXTERNAL may be:
#   * Threads::Threads                   -> find_dependency(Threads); -pthread
#   * an imported target of a package found in CONFIG mode at the top level
#     (e.g. TBB::tbb from find_package(TBB)) -> find_dependency(<namespace>);
#     its libraries, resolved to -l flags, go into mps.pc
#   * any other imported target (PkgConfig::X, a target made by a Find module)
#     -> recreated in mpsConfig.cmake as an INTERFACE IMPORTED target carrying
#     the resolved link flags; the same flags go into mps.pc
#   * a plain library name (sigsegv) or path or -l/-L flag -> used as is
# A non-imported target cannot be exported: that is a configuration error.
# Imported targets must be visible at the top level (find_package at the top,
# or GLOBAL), since `mps` links them there.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

if(NOT TARGET mps::mps_static)
  add_library(mps::mps_static ALIAS mps_static)
endif()

# The shared library carries its own dependencies: refuse undefined symbols at
# link time, so `cc prog.c -lmps` never needs to name libstdc++ or threads.
# (Skipped under sanitizers, whose runtimes resolve some symbols at load time.)
if(NOT MPS_SANITIZE)
  target_link_options(mps PRIVATE "LINKER:--no-undefined")
endif()

set(MPS_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/mps")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(MPS_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(MPS_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(MPS_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(MPS_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()

# --- resolving external link dependencies -----------------------------------

# _mps_path_to_flags(<path> <out>): a library file as linker flags.
function(_mps_path_to_flags path out)
  get_filename_component(dir "${path}" DIRECTORY)
  get_filename_component(file "${path}" NAME)
  set(flags "${path}")
  if(file MATCHES "^lib(.+)\\.(so|a)(\\.[0-9.]+)?$")
    set(name "${CMAKE_MATCH_1}")
    # -lname finds the same file only if the unversioned name exists.
    if(EXISTS "${dir}/lib${name}.so" OR EXISTS "${dir}/lib${name}.a")
      set(flags "-l${name}")
      if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
        set(flags "-L${dir}" "-l${name}")
      endif()
    endif()
  endif()
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()

# _mps_imported_location(<target> <out>): the file of an imported library, if any.
function(_mps_imported_location tgt out)
  set(loc "")
  string(TOUPPER "${CMAKE_BUILD_TYPE}" cfg)
  get_target_property(configs ${tgt} IMPORTED_CONFIGURATIONS)
  if(NOT configs)
    set(configs "")
  endif()
  set(candidates "")
  if(cfg)
    get_target_property(mapped ${tgt} MAP_IMPORTED_CONFIG_${cfg})
    if(mapped)
      list(APPEND candidates ${mapped})
    endif()
    list(APPEND candidates ${cfg})
  endif()
  list(APPEND candidates ${configs} RELEASE RELWITHDEBINFO MINSIZEREL DEBUG NOCONFIG)
  foreach(c IN LISTS candidates)
    string(TOUPPER "${c}" c)
    get_target_property(l ${tgt} IMPORTED_LOCATION_${c})
    if(l)
      set(loc "${l}")
      break()
    endif()
  endforeach()
  if(NOT loc)
    get_target_property(l ${tgt} IMPORTED_LOCATION)
    if(l)
      set(loc "${l}")
    endif()
  endif()
  set(${out} "${loc}" PARENT_SCOPE)
endfunction()

# _mps_resolve_link(<item> <out>): linker flags for one link item, recursively.
function(_mps_resolve_link item out)
  set(flags "")
  if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
    set(item "${CMAKE_MATCH_1}")
  endif()
  if(item STREQUAL "" OR item MATCHES "^\\$<")
    if(item MATCHES "^\\$<")
      message(WARNING "mps.pc: generator expression '${item}' in link dependencies ignored")
    endif()
  elseif(item STREQUAL "Threads::Threads")
    list(APPEND flags "-pthread")
  elseif(TARGET "${item}")
    get_target_property(aliased ${item} ALIASED_TARGET)
    if(aliased)
      set(item "${aliased}")
    endif()
    get_target_property(type ${item} TYPE)
    if(type MATCHES "^(SHARED|STATIC|UNKNOWN|MODULE)_LIBRARY$")
      _mps_imported_location(${item} loc)
      if(loc)
        _mps_path_to_flags("${loc}" f)
        list(APPEND flags ${f})
      endif()
    endif()
    get_target_property(deps ${item} INTERFACE_LINK_LIBRARIES)
    if(deps)
      foreach(d IN LISTS deps)
        _mps_resolve_link("${d}" f)
        list(APPEND flags ${f})
      endforeach()
    endif()
    get_target_property(opts ${item} INTERFACE_LINK_OPTIONS)
    if(opts)
      foreach(o IN LISTS opts)
        if(NOT o MATCHES "^\\$<")
          string(REGEX REPLACE "^LINKER:" "-Wl," o "${o}")
          list(APPEND flags "${o}")
        endif()
      endforeach()
    endif()
  elseif(item MATCHES "^-")
    list(APPEND flags "${item}")
  elseif(IS_ABSOLUTE "${item}")
    _mps_path_to_flags("${item}" f)
    list(APPEND flags ${f})
  else()
    list(APPEND flags "-l${item}")
  endif()
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()

set(mps_pkg_externals Threads::Threads ${module_external})
list(REMOVE_DUPLICATES mps_pkg_externals)

set(MPS_CONFIG_DEPENDENCIES "")
set(mps_pc_libs "")
foreach(item IN LISTS mps_pkg_externals)
  _mps_resolve_link("${item}" f)
  list(APPEND mps_pc_libs ${f})

  if(item STREQUAL "Threads::Threads")
    continue() # mpsConfig.cmake always finds Threads
  endif()
  if(NOT TARGET "${item}")
    continue() # plain names, paths and flags need nothing in the config
  endif()
  get_target_property(imported ${item} IMPORTED)
  if(NOT imported)
    message(FATAL_ERROR "MpsInstall: external dependency '${item}' is a target of this project, "
                        "not an imported target; it cannot be exported with mps::mps.")
  endif()
  set(ns "")
  if(item MATCHES "^([A-Za-z0-9_.+-]+)::")
    set(ns "${CMAKE_MATCH_1}")
  endif()
  if(ns AND NOT ns STREQUAL "PkgConfig" AND DEFINED ${ns}_DIR AND EXISTS "${${ns}_DIR}")
    string(APPEND MPS_CONFIG_DEPENDENCIES "find_dependency(${ns})\n")
  else()
    string(APPEND MPS_CONFIG_DEPENDENCIES
      "if(NOT TARGET ${item})\n"
      "  add_library(${item} INTERFACE IMPORTED)\n"
      "  set_target_properties(${item} PROPERTIES INTERFACE_LINK_LIBRARIES \"${f}\")\n"
      "endif()\n")
  endif()
endforeach()

# A C program linking the static C++ library needs the C++ runtime: exactly the
# libraries the C++ driver adds implicitly and the C driver does not.
set(mps_cxx_runtime "")
foreach(l IN LISTS CMAKE_CXX_IMPLICIT_LINK_LIBRARIES)
  if(NOT l IN_LIST CMAKE_C_IMPLICIT_LINK_LIBRARIES)
    if(l MATCHES "^-" OR IS_ABSOLUTE "${l}")
      list(APPEND mps_cxx_runtime "${l}")
    else()
      list(APPEND mps_cxx_runtime "-l${l}")
    endif()
  endif()
endforeach()
if(NOT mps_cxx_runtime)
  set(mps_cxx_runtime -lstdc++ -lm)
endif()

list(JOIN mps_cxx_runtime " " MPS_CXX_RUNTIME)

# A sanitizer build's library needs the sanitizer runtime in every program.
set(MPS_SANITIZE_FLAGS "")
if(MPS_SANITIZE)
  list(JOIN MPS_SANITIZE "," sanitizers)
  set(MPS_SANITIZE_FLAGS "-fsanitize=${sanitizers}")
endif()

list(APPEND mps_pc_libs ${mps_cxx_runtime})
list(REMOVE_DUPLICATES mps_pc_libs)
list(JOIN mps_pc_libs " " MPS_PC_LIBS)
string(STRIP "${MPS_SANITIZE_FLAGS} ${MPS_PC_LIBS}" MPS_PC_LIBS)
set(MPS_PC_CFLAGS "")
if(MPS_SANITIZE_FLAGS)
  set(MPS_PC_CFLAGS " ${MPS_SANITIZE_FLAGS}") # appended to -I${includedir}
endif()
if(MPS_CHECKED)
  set(MPS_CHECKED_BOOL ON)
else()
  set(MPS_CHECKED_BOOL OFF)
endif()

# --- install rules ------------------------------------------------------------

install(TARGETS mps mps_static
  EXPORT mpsTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")

install(EXPORT mpsTargets
  NAMESPACE mps::
  FILE mpsTargets.cmake
  DESTINATION "${MPS_INSTALL_CMAKEDIR}")

configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/mpsConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/package/mpsConfig.cmake"
  INSTALL_DESTINATION "${MPS_INSTALL_CMAKEDIR}")
# 0.x: minor versions may break compatibility.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/package/mpsConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/package/mpsConfig.cmake"
              "${PROJECT_BINARY_DIR}/package/mpsConfigVersion.cmake"
  DESTINATION "${MPS_INSTALL_CMAKEDIR}")

# mps.pc names the real install prefix, known only when installing (it may be
# overridden with `cmake --install --prefix`): configure everything else now and
# the prefix at install time.
set(MPS_PC_PREFIX "@CMAKE_INSTALL_PREFIX@")
configure_file("${CMAKE_CURRENT_LIST_DIR}/mps.pc.in" "${PROJECT_BINARY_DIR}/package/mps.pc.in" @ONLY)
install(CODE "
  configure_file(\"${PROJECT_BINARY_DIR}/package/mps.pc.in\"
                 \"${PROJECT_BINARY_DIR}/package/mps.pc\" @ONLY)
")
install(FILES "${PROJECT_BINARY_DIR}/package/mps.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

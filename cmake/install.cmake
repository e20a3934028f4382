# cmake/install.cmake — what `cmake --install` puts under a prefix for C programs.
#
#   include/ipo/*.h                   the public headers (uv.h only with the libuv adapter)
#   lib/libipo_{core,loop,uv}.{a,so}  each library static and shared
#   lib/pkgconfig/ipc-py-objects{-core,,-uv}.pc
#   lib/cmake/IpcPyObjects/           find_package(IpcPyObjects): targets
#                                     IpcPyObjects::core, ::loop, ::uv (shared) and
#                                     ::core_static, ::loop_static, ::uv_static
#
# The crash-point variants (tests/c), the tests, the benchmarks and the
# examples are not installed. Included from CMakeLists.txt after the
# libraries are defined; docs/design.md ("Packaging") says why each name.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(IPO_CMAKE_PACKAGE IpcPyObjects)
set(IPO_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/${IPO_CMAKE_PACKAGE})
set(IPO_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The shared libraries are linked from the static ones' object files (all
# position-independent already, for the extension): one compilation, two
# kinds of library. While the major version is 0 a minor release may change
# the ABI, so the soname carries major.minor.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_ipo_soversion ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(_ipo_soversion ${PROJECT_VERSION_MAJOR})
endif()

# ipo_add_shared(NAME STATIC_TARGET EXPORT_NAME INCLUDE_DIR LIBS...): the
# shared twin of STATIC_TARGET, with the same file name (libNAME.so beside
# libNAME.a) and its own usage requirements: the headers it is used through,
# and the libraries whose symbols callers see (the rest is linked privately).
function(ipo_add_shared name static export_name include_dir)
  add_library(${name}_shared SHARED $<TARGET_OBJECTS:${static}>)
  set_target_properties(${name}_shared PROPERTIES
    OUTPUT_NAME ${name}
    EXPORT_NAME ${export_name}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${_ipo_soversion})
  if(include_dir)
    target_include_directories(${name}_shared PUBLIC $<BUILD_INTERFACE:${include_dir}>)
  endif()
  target_include_directories(${name}_shared INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${name}_shared ${ARGN})
  set_target_properties(${static} PROPERTIES EXPORT_NAME ${export_name}_static)
  target_include_directories(${static} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endfunction()

ipo_add_shared(ipo_core ipo_core core ${PROJECT_SOURCE_DIR}/core/include PRIVATE Threads::Threads m)
ipo_add_shared(ipo_loop ipo_loop loop ${PROJECT_SOURCE_DIR}/loop/include PUBLIC ipo_core_shared)
install(TARGETS ipo_core ipo_loop ipo_core_shared ipo_loop_shared
  EXPORT IpcPyObjectsTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(EXPORT IpcPyObjectsTargets
  NAMESPACE ${IPO_CMAKE_PACKAGE}::
  DESTINATION ${IPO_INSTALL_CMAKEDIR})
install(DIRECTORY core/include/ipo loop/include/ipo
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "uv.h" EXCLUDE)

# The libuv adapter, in an export set of its own: a program that does not
# use it needs no libuv to find the package (IpcPyObjectsConfig.cmake loads
# these targets when the component is asked for, or when libuv is there).
if(TARGET ipo_uv)
  set_target_properties(ipo_uv PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # uv.h includes <uv.h> and callers drive the loop: libuv is public.
  ipo_add_shared(ipo_uv ipo_uv uv "" PUBLIC ipo_loop_shared PkgConfig::IPO_LIBUV)
  install(TARGETS ipo_uv ipo_uv_shared
    EXPORT IpcPyObjectsUvTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT IpcPyObjectsUvTargets
    NAMESPACE ${IPO_CMAKE_PACKAGE}::
    DESTINATION ${IPO_INSTALL_CMAKEDIR})
  install(FILES loop/include/ipo/uv.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ipo)
endif()

# find_package(IpcPyObjects [X.Y] [COMPONENTS core loop uv]): the package
# finds itself from where it is installed (relocatable), and accepts a
# request for X.Y when its version is X.Y.* at or above it; with major 0,
# only the same minor version (an ABI may change between 0.x releases).
configure_package_config_file(cmake/IpcPyObjectsConfig.cmake.in
  ${PROJECT_BINARY_DIR}/${IPO_CMAKE_PACKAGE}Config.cmake
  INSTALL_DESTINATION ${IPO_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/${IPO_CMAKE_PACKAGE}ConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/${IPO_CMAKE_PACKAGE}Config.cmake
  ${PROJECT_BINARY_DIR}/${IPO_CMAKE_PACKAGE}ConfigVersion.cmake
  DESTINATION ${IPO_INSTALL_CMAKEDIR})

# pkg-config: one file per library. Each finds its prefix from where it
# lies (${pcfiledir}), so the copy installed by `cmake --install --prefix P`
# points into P whatever prefix the build was configured with.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  message(FATAL_ERROR "CMAKE_INSTALL_LIBDIR must be relative to the prefix for the pkg-config files: ${CMAKE_INSTALL_LIBDIR}")
endif()
file(RELATIVE_PATH IPO_PC_PREFIX_FROM_PCFILEDIR /prefix/${IPO_INSTALL_PKGCONFIGDIR} /prefix)
string(REGEX REPLACE "/$" "" IPO_PC_PREFIX_FROM_PCFILEDIR "${IPO_PC_PREFIX_FROM_PCFILEDIR}")
foreach(pc ipc-py-objects-core ipc-py-objects)
  configure_file(cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${IPO_INSTALL_PKGCONFIGDIR})
endforeach()
if(TARGET ipo_uv)
  configure_file(cmake/ipc-py-objects-uv.pc.in ${PROJECT_BINARY_DIR}/ipc-py-objects-uv.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/ipc-py-objects-uv.pc DESTINATION ${IPO_INSTALL_PKGCONFIGDIR})
endif()

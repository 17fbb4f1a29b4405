# connsched_add_scheduler(<target> SOURCES <files...> [OUTPUT_NAME <name>]
#                         [LIBRARIES <libs...>] [OUTPUT_DIRECTORY <dir>] [INSTALL])
#
# Builds one scheduler backend as a MODULE library (a .so meant for dlopen) named
# <name>.so, with hidden visibility and a linker version script, so that the only
# exported symbol is connsched_scheduler_entry. The backend sees only the C ABI
# header (connsched::abi); it never links against core.
#
# Works in connsched's own tree and, after find_package(connsched), out of tree.
#
# INSTALL installs the .so under the caller's install prefix, into the folder relative to
# the prefix where connsched's servers look for backends by name
# (CONNSCHED_PLUGIN_INSTALL_DIR, "lib/connsched" by default): installed into the same
# prefix as connsched, `--thread-handling=<name>` finds it with no --plugin-dir.
set(_CONNSCHED_SCHEDULER_MAP "${CMAKE_CURRENT_LIST_DIR}/scheduler-exports.map")

function(connsched_add_scheduler target)
  cmake_parse_arguments(ARG "INSTALL" "OUTPUT_NAME;OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "connsched_add_scheduler(${target}): SOURCES is required")
  endif()
  if(NOT ARG_OUTPUT_NAME)
    set(ARG_OUTPUT_NAME "${target}")
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "${ARG_OUTPUT_NAME}"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS "${_CONNSCHED_SCHEDULER_MAP}")
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  endif()
  target_link_options(${target} PRIVATE "LINKER:--version-script=${_CONNSCHED_SCHEDULER_MAP}")
  if(TARGET connsched::abi)
    target_link_libraries(${target} PRIVATE connsched::abi)
  else()
    target_link_libraries(${target} PRIVATE connsched_abi)
  endif()
  find_package(Threads REQUIRED)
  target_link_libraries(${target} PRIVATE Threads::Threads ${ARG_LIBRARIES})
  if(ARG_INSTALL)
    # A relative destination, so that it lands under CMAKE_INSTALL_PREFIX (or --prefix).
    if(NOT CONNSCHED_PLUGIN_INSTALL_DIR)
      message(FATAL_ERROR "connsched_add_scheduler(${target} INSTALL): CONNSCHED_PLUGIN_INSTALL_DIR "
                          "is not set (find_package(connsched) sets it)")
    endif()
    install(TARGETS ${target} LIBRARY DESTINATION "${CONNSCHED_PLUGIN_INSTALL_DIR}")
  endif()
endfunction()

# connsched_add_backend_test(<target> [NAME <test>] [CLIENTS <n>] [SECONDS <s>]
#                            [OPTIONS <server flags...>])
#
# Declares a CTest test (default name <target>_serves; call enable_testing() first) that
# loads the backend built by <target> by path into connsched's echo_server, checks an
# echo, serves CLIENTS concurrent connections for SECONDS with connsched_loadgen (every
# reply checked), and requires a clean exit on SIGTERM with no sanitizer report or error
# line (ConnschedCheckBackend.cmake). OPTIONS are passed to the server, e.g.
# --my-backend-workers=4. In connsched's tree it uses the built echo_server and
# connsched_loadgen; out of tree, the installed ones (CONNSCHED_BIN_DIR).
set(_CONNSCHED_CHECK_BACKEND "${CMAKE_CURRENT_LIST_DIR}/ConnschedCheckBackend.cmake")

function(connsched_add_backend_test target)
  cmake_parse_arguments(ARG "" "NAME;CLIENTS;SECONDS" "OPTIONS" ${ARGN})
  set(load)  # the script's defaults (64 clients, 3 s) unless given
  foreach(var CLIENTS SECONDS)
    if(ARG_${var})
      list(APPEND load "-D${var}=${ARG_${var}}")
    endif()
  endforeach()
  if(TARGET echo_server AND TARGET connsched_loadgen)
    set(server "$<TARGET_FILE:echo_server>")
    set(loadgen "$<TARGET_FILE:connsched_loadgen>")
  elseif(CONNSCHED_BIN_DIR)
    set(server "${CONNSCHED_BIN_DIR}/echo_server")
    set(loadgen "${CONNSCHED_BIN_DIR}/connsched_loadgen")
  else()
    message(FATAL_ERROR "connsched_add_backend_test(${target}): no echo_server (find_package(connsched) "
                        "sets CONNSCHED_BIN_DIR)")
  endif()
  string(REPLACE ";" "\\;" options "${ARG_OPTIONS}")
  if(NOT ARG_NAME)
    set(ARG_NAME "${target}_serves")
  endif()
  add_test(NAME ${ARG_NAME}
           COMMAND ${CMAKE_COMMAND} -DSERVER=${server} -DBACKEND=$<TARGET_FILE:${target}>
                   -DLOADGEN=${loadgen} ${load} "-DOPTIONS=${options}"
                   -P ${_CONNSCHED_CHECK_BACKEND})
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT 120)
endfunction()

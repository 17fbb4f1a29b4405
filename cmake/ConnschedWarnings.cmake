# Warning flags for the project's own targets, in an INTERFACE target so consumers of
# the installed package never inherit them (Taskflow's tf::error_settings).
add_library(connsched_warnings INTERFACE)
add_library(connsched::warnings ALIAS connsched_warnings)
target_compile_options(connsched_warnings INTERFACE -Wall -Wextra
                       $<$<BOOL:${CONNSCHED_WERROR}>:-Werror>)

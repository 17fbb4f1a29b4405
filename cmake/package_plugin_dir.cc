// File: cmake/package_plugin_dir.cc (installed beside connschedConfig.cmake)
//
// Compiled into every program that links connsched::core from an installed package, with
// CONNSCHED_PACKAGE_PLUGIN_DIR set by the package config to that installation's backend
// folder. Core asks for it (a weak reference, so programs built in connsched's own tree,
// which do not have this file, fall back to <exe>/../lib/connsched): a server built out of
// tree then finds the installed built-in backends with no --plugin-dir.
//
// Weak here too, so that a project that links connsched::core into a library and an
// executable (both get this file) links with one copy instead of a duplicate symbol.
extern "C" __attribute__((weak)) const char* connsched_package_plugin_dir() {
  return CONNSCHED_PACKAGE_PLUGIN_DIR;
}

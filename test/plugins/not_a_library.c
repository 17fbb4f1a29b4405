/*
 * File: test/plugins/not_a_library.c
 *
 * An ELF executable (not PIE) given a backend's name: its header is ELF, so only dlopen
 * can refuse it, which is the refusal the loader's test needs.
 */
int main(void) {
  return 0;
}

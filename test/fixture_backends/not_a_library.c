/*
 * File: test/fixture_backends/not_a_library.c
 *
 * A program given a backend's name, built twice: as a plain executable (ELF type EXEC,
 * which the loader's file check refuses) and as a PIE (type DYN, like a shared object,
 * which only dlopen refuses): the loader's tests need both refusals.
 */
int main(void) {
  return 0;
}

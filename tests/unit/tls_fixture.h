/* A CA, a leaf certificate it signed (localhost / 127.0.0.1 / ::1) and a second,
 * unrelated CA, written as PEM files into a fresh temporary folder: the fixture
 * of the TLS suites that run a client against the server's sessions. */
#ifndef RINGPAD_TESTS_TLS_FIXTURE_H
#define RINGPAD_TESTS_TLS_FIXTURE_H

typedef struct tls_fixture {
    char dir[64];
    char cert_path[128];      /* leaf certificate, signed by ca */
    char key_path[128];
    char ca_path[128];
    char other_ca_path[128];  /* a CA that signed nothing here */
} tls_fixture;

/* Initialises the TLS library and writes the files (asserts on failure). */
void tls_fixture_make(tls_fixture *f, const char *prefix);
/* Removes the files and the folder, and frees the thread's TLS state. */
void tls_fixture_remove(tls_fixture *f);

#endif

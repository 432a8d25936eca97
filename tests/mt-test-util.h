/* Helpers shared by the Check suites. */
#pragma once

#include <check.h>
#include "tests/mt-internal.h"

/* A fresh temporary directory (removed at exit by the caller's choice). */
char       *mt_test_tmpdir (void);
/* Writes @content to DIR/NAME and returns the path. */
char       *mt_test_write (const char *dir, const char *name, const char *content);
/* The default registry with the test-node plugin loaded (fails the test if it cannot be). */
MtRegistry *mt_test_registry (void);
/* Runs the built mtrun in @cwd with extra environment entries (NULL-terminated "K=V"),
 * and the arguments after @env (NULL-terminated). Returns the exit status. */
int         mt_test_mtrun (const char *cwd, const char *const *env, char **out, char **err, ...) G_GNUC_NULL_TERMINATED;
/* The same with the arguments in a NULL-terminated array. */
int         mt_test_mtrunv (const char *cwd, const char *const *env, char **out, char **err, const char *const *args);
/* Waits for a child started with G_SPAWN_DO_NOT_REAP_CHILD; returns its wait status. */
int         mt_test_wait_pid (GPid pid);
/* Number of lines equal to @line in a file (0 if it does not exist). */
guint       mt_test_count_lines (const char *path, const char *line);
/* @n doubles uniform in [-scale, scale) from @rng (free with g_free). */
double     *mt_test_random (MtRng *rng, gsize n, double scale);
/* Runs a Check suite, printing Check's summary; returns the process exit code. */
int         mt_test_run_suite (Suite *s);

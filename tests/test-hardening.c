/* A cache that masktune did not write (a shared NFS folder, a copied .mtcache), files that
 * are not what they claim, and readers' limits: each reproduction of the hardening issue,
 * run through mtrun as a user would. None may crash mtrun, hang it, or make it write or
 * delete outside the cache; each damaged entry is reported and recomputed. */
#include "tests/mt-test-util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <glib/gstdio.h>

typedef struct {
  char *dir, *cache, *pipe, *env_cache;
} Place;

static const char *small_pipe = "d = mnist(limit=20)\nb = biaser(d)\n";

static void
place_init (Place *p, const char *pipe_text)
{
  p->dir = mt_test_tmpdir ();
  p->cache = g_build_filename (p->dir, "cache", NULL);
  p->env_cache = g_strdup_printf ("MT_CACHE_DIR=%s", p->cache);
  p->pipe = mt_test_write (p->dir, "p.pipe", pipe_text);
}

static void
place_clear (Place *p)
{
  mt_file_remove_tree (p->dir, NULL);
  g_free (p->dir);
  g_free (p->cache);
  g_free (p->pipe);
  g_free (p->env_cache);
}

static int
mtrun_in (Place *p, char **out, char **err, ...) G_GNUC_NULL_TERMINATED;

/* mtrun with this place's cache; the arguments after @err, NULL-terminated. */
static int
mtrun_in (Place *p, char **out, char **err, ...)
{
  const char *env[] = { p->env_cache, NULL };
  va_list ap;
  va_start (ap, err);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  const char *a;
  while ((a = va_arg (ap, const char *)))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return mt_test_mtrunv (p->dir, env, out, err, (const char *const *) args->pdata);
}

/* The manifest path of @node's latest run. */
static char *
entry_of (Place *p, const char *node)
{
  g_autoptr (MtCache) c = mt_cache_open (p->cache, NULL);
  ck_assert (c != NULL);
  g_autofree char *canon = g_canonicalize_filename (p->pipe, NULL);
  g_autofree char *key = mt_cache_get_ref (c, canon, node);
  ck_assert_msg (key != NULL, "no ref for %s", node);
  g_autofree char *name = g_strconcat (key, ".json", NULL);
  return g_build_filename (p->cache, "entries", name, NULL);
}

/* A place that ran the small pipeline; returns the manifest path of its node 'b'. */
static char *
place_run (Place *p)
{
  place_init (p, small_pipe);
  ck_assert_int_eq (mtrun_in (p, NULL, NULL, "run", "-q", p->pipe, NULL), 0);
  return entry_of (p, "b");
}

static void
replace_file (const char *path, const char *text)
{
  g_chmod (path, 0644);
  g_unlink (path);
  ck_assert (g_file_set_contents (path, text, -1, NULL));
}

/* A run warns and recomputes, verify flags it, gc removes it, and a rerun is clean. */
static void
expect_damaged_entry_handled (Place *p, const char *entry)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = mtrun_in (p, &out, &err, "cache", "verify", NULL);
  ck_assert_msg (rc == 1 && strstr (out, "CORRUPT entry"), "verify: exit %d\n%s\n%s", rc, out, err);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = mtrun_in (p, &out, &err, "cache", "ls", NULL);
  ck_assert_msg (rc == 0, "ls: exit %d: %s", rc, err);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = mtrun_in (p, &out, &err, "cache", "gc", NULL);
  ck_assert_msg (rc == 0 && !g_file_test (entry, G_FILE_TEST_EXISTS), "gc: exit %d, entry left: %s\n%s", rc, out, err);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = mtrun_in (p, &out, &err, "run", p->pipe, NULL);
  ck_assert_msg (rc == 0 && strstr (err, "1 ran, 1 cached"), "rerun: exit %d: %s", rc, err);
}

/* 1. A manifest whose outputs are [] or name another port. */
START_TEST (manifest_missing_an_output)
{
  const char *variants[] = { "[]", "other" };
  for (guint v = 0; v < G_N_ELEMENTS (variants); v++) {
    Place p;
    g_autofree char *entry = place_run (&p);
    g_autofree char *text = NULL;
    ck_assert (g_file_get_contents (entry, &text, NULL, NULL));
    g_autoptr (JsonParser) jp = json_parser_new ();
    ck_assert (json_parser_load_from_data (jp, text, -1, NULL));
    JsonObject *o = json_node_get_object (json_parser_get_root (jp));
    JsonArray *outs = json_object_get_array_member (o, "outputs");
    if (v == 0)
      json_object_set_array_member (o, "outputs", json_array_new ());
    else
      json_object_set_string_member (json_array_get_object_element (outs, 0), "port", "other");
    g_autofree char *damaged = json_to_string (json_parser_get_root (jp), FALSE);
    replace_file (entry, damaged);
    /* run: a warning, the node recomputed, never a crash. */
    g_autofree char *err = NULL;
    int rc = mtrun_in (&p, NULL, &err, "run", p.pipe, NULL);
    ck_assert_msg (rc == 0 && strstr (err, "is corrupt") && strstr (err, "1 ran"), "%s: exit %d: %s", variants[v], rc, err);
    /* Damage it again for verify and gc. */
    replace_file (entry, damaged);
    expect_damaged_entry_handled (&p, entry);
    place_clear (&p);
  }
}
END_TEST

/* 2. 100,000 nested '[' in a manifest (json-glib's parser would overflow the stack). */
START_TEST (deeply_nested_manifest)
{
  Place p;
  g_autofree char *entry = place_run (&p);
  g_autofree char *deep = g_strnfill (100000, '[');
  replace_file (entry, deep);
  g_autofree char *err = NULL;
  int rc = mtrun_in (&p, NULL, &err, "status", p.pipe, NULL);
  ck_assert_msg (rc == 0, "status: exit %d: %s", rc, err);
  g_clear_pointer (&err, g_free);
  rc = mtrun_in (&p, NULL, &err, "run", p.pipe, NULL);
  ck_assert_msg (rc == 0 && strstr (err, "nested deeper than") && strstr (err, "1 ran"), "run: exit %d: %s", rc, err);
  replace_file (entry, deep);
  expect_damaged_entry_handled (&p, entry);
  place_clear (&p);
}
END_TEST

/* 3. A node name from a manifest never becomes a path outside DIR; a link in DIR is
 * replaced, not written through. */
START_TEST (export_stays_inside_dir)
{
  Place p;
  g_autofree char *entry = place_run (&p);
  g_autofree char *text = NULL;
  ck_assert (g_file_get_contents (entry, &text, NULL, NULL));
  g_autoptr (GRegex) re = g_regex_new ("\"node\" *: *\"b\"", 0, 0, NULL);
  g_autofree char *evil = g_regex_replace_literal (re, text, -1, 0, "\"node\":\"../../evil\"", 0, NULL);
  ck_assert (strstr (evil, "../../evil"));
  replace_file (entry, evil);
  g_autofree char *outdir = g_build_filename (p.dir, "x", "y", NULL);
  g_autofree char *base = g_path_get_basename (entry);
  g_autofree char *prefix = g_strndup (base, 12);
  g_autofree char *err = NULL;
  int rc = mtrun_in (&p, NULL, &err, "cache", "export", prefix, outdir, NULL);
  ck_assert_msg (rc != 0, "export of a manifest naming ../../evil succeeded");
  g_autofree char *escaped = g_build_filename (p.dir, "evil.dataset.safetensors", NULL);
  ck_assert (!g_file_test (escaped, G_FILE_TEST_EXISTS));
  /* A link where an exported file goes. */
  ck_assert_int_eq (mtrun_in (&p, NULL, NULL, "run", "-q", p.pipe, NULL), 0);
  g_autofree char *victim = mt_test_write (p.dir, "victim", "keep me");
  g_mkdir_with_parents (outdir, 0755);
  g_autofree char *link = g_build_filename (outdir, "b.dataset.safetensors", NULL);
  g_autofree char *plink = g_build_filename (outdir, "b.dataset.png", NULL);
  ck_assert (symlink (victim, link) == 0 && symlink (victim, plink) == 0);
  rc = mtrun_in (&p, NULL, NULL, "cache", "export", "-p", p.pipe, "b", outdir, NULL);
  ck_assert_int_eq (rc, 0);
  g_autofree char *kept = NULL;
  ck_assert (g_file_get_contents (victim, &kept, NULL, NULL));
  ck_assert_str_eq (kept, "keep me");
  ck_assert (!g_file_test (link, G_FILE_TEST_IS_SYMLINK) && !g_file_test (plink, G_FILE_TEST_IS_SYMLINK));
  place_clear (&p);
}
END_TEST

static guint
count_files (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  return n;
}

/* 4. gc with objects/XX or tmp/ a link to another folder. */
START_TEST (gc_never_follows_links)
{
  Place p;
  place_init (&p, small_pipe);
  ck_assert_int_eq (mtrun_in (&p, NULL, NULL, "run", "-q", p.pipe, NULL), 0);
  g_autofree char *outside = g_build_filename (p.dir, "outside", NULL);
  g_mkdir_with_parents (outside, 0755);
  g_free (mt_test_write (outside, "precious-1", "a"));
  g_free (mt_test_write (outside, "precious-2", "b"));
  g_autofree char *af = g_build_filename (p.cache, "objects", "af", NULL);
  ck_assert (symlink (outside, af) == 0);
  for (int dry = 1; dry >= 0; dry--) {
    g_autofree char *out = NULL, *err = NULL;
    int rc = dry ? mtrun_in (&p, &out, &err, "cache", "gc", "--dry-run", NULL)
                 : mtrun_in (&p, &out, &err, "cache", "gc", NULL);
    ck_assert_msg (rc == 0, "gc: %s", err);
    ck_assert_msg (strstr (out, "objects/af (not a folder of objects") && !strstr (out, "precious"), "%s", out);
    ck_assert_uint_eq (count_files (outside), 2);
  }
  ck_assert (!g_file_test (af, G_FILE_TEST_EXISTS) && !g_file_test (af, G_FILE_TEST_IS_SYMLINK));
  /* The cached results survived: nothing of the cache's own was lost. */
  g_autofree char *err = NULL;
  ck_assert_int_eq (mtrun_in (&p, NULL, &err, "run", p.pipe, NULL), 0);
  ck_assert_msg (strstr (err, "0 ran, 2 cached"), "%s", err);
  /* tmp/ a link: the cache is refused, the folder it points at untouched. */
  g_autofree char *tmp = g_build_filename (p.cache, "tmp", NULL);
  mt_file_remove_tree (tmp, NULL);
  ck_assert (symlink (outside, tmp) == 0);
  g_clear_pointer (&err, g_free);
  int rc = mtrun_in (&p, NULL, &err, "cache", "gc", NULL);
  ck_assert_msg (rc == 1 && strstr (err, "is not a directory (a symbolic link?)"), "gc: exit %d: %s", rc, err);
  ck_assert_uint_eq (count_files (outside), 2);
  place_clear (&p);
}
END_TEST

/* 5. A FIFO or a device where a source node expects a file: an error, at once. */
START_TEST (devices_and_fifos_are_refused)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *fifo = g_build_filename (dir, "pipe.npy", NULL);
  ck_assert (mkfifo (fifo, 0644) == 0);
  const char *paths[] = { "/dev/zero", fifo };
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    Place p;
    g_autofree char *text = g_strdup_printf ("t = npy_file(path=\"%s\")\n", paths[i]);
    place_init (&p, text);
    const char *cmds[][2] = { { "run", NULL }, { "status", NULL }, { "run", "-n" } };
    for (guint c = 0; c < G_N_ELEMENTS (cmds); c++) {
      g_autofree char *out = NULL, *err = NULL;
      int rc = cmds[c][1] ? mtrun_in (&p, &out, &err, cmds[c][0], cmds[c][1], p.pipe, NULL)
                          : mtrun_in (&p, &out, &err, cmds[c][0], p.pipe, NULL);
      g_autofree char *both = g_strconcat (out, err, NULL);
      ck_assert_msg (rc == 1 && strstr (both, "not a regular file"), "%s %s on %s: exit %d: %s", cmds[c][0],
                     cmds[c][1] ? cmds[c][1] : "", paths[i], rc, both);
    }
    place_clear (&p);
  }
  mt_file_remove_tree (dir, NULL);
}
END_TEST

static void
write_idx_gz (const char *path, guint8 type, int ndim, const guint32 *dims, gsize data_bytes)
{
  gzFile f = gzopen (path, "wb1");
  ck_assert (f != NULL);
  guint8 head[4] = { 0, 0, type, (guint8) ndim };
  gzwrite (f, head, 4);
  for (int i = 0; i < ndim; i++) {
    guint32 be = GUINT32_TO_BE (dims[i]);
    gzwrite (f, &be, 4);
  }
  g_autofree guint8 *zero = g_malloc0 (1 << 20);
  for (gsize left = data_bytes; left > 0;) {
    gsize n = MIN (left, (gsize) 1 << 20);
    gzwrite (f, zero, (unsigned) n);
    left -= n;
  }
  gzclose (f);
}

/* 6. A decompression bomb: the header's claim is held to a limit and to the labels file
 * before anything is allocated. */
START_TEST (idx_decompression_bomb)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *img = g_build_filename (dir, "train-images-idx3-ubyte.gz", NULL);
  g_autofree char *lab = g_build_filename (dir, "train-labels-idx1-ubyte.gz", NULL);
  /* 64 MiB of zeros in a few kilobytes, claiming exactly that. */
  const guint32 dims[] = { 1, 8192, 8192 };
  write_idx_gz (img, 0x08, 3, dims, (gsize) 8192 * 8192);
  const guint32 ldims[] = { 10 };
  write_idx_gz (lab, 0x08, 1, ldims, 10);
  GStatBuf st;
  ck_assert (g_stat (img, &st) == 0 && st.st_size < (1 << 20));
  /* Under a limit of 16 MiB: refused by size. */
  g_setenv ("MT_MAX_INPUT_BYTES", "16777216", TRUE);
  g_autoptr (GError) err = NULL;
  ck_assert_ptr_null (mt_idx_load (img, &err));
  ck_assert_msg (strstr (err->message, "more than the limit of 16777216 (MT_MAX_INPUT_BYTES)"), "%s", err->message);
  g_clear_error (&err);
  g_unsetenv ("MT_MAX_INPUT_BYTES");
  /* The header of a 65535 x 65535 image (4.3 GB) is held to the limit without reading. */
  const guint32 huge[] = { 1, 65535, 65535 };
  g_autofree char *big = g_build_filename (dir, "big-idx3-ubyte.gz", NULL);
  write_idx_gz (big, 0x08, 3, huge, 1000);
  ck_assert_ptr_null (mt_idx_load (big, &err));
  ck_assert_msg (strstr (err->message, "more than the limit"), "%s", err->message);
  g_clear_error (&err);
  /* Through the mnist node: the labels' count (10) bounds the images' claim (1). */
  Place p;
  g_autofree char *text = g_strdup_printf ("d = mnist(root=\"%s\")\n", dir);
  place_init (&p, text);
  g_autofree char *e = NULL;
  int rc = mtrun_in (&p, NULL, &e, "run", p.pipe, NULL);
  ck_assert_msg (rc == 1 && strstr (e, "has 10 labels but") && strstr (e, "has 1 images"), "exit %d: %s", rc, e);
  place_clear (&p);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* 8. The smaller ones. */
START_TEST (smaller_ones)
{
  /* A control character before the first NUL still makes a binary file one line. */
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *bin = g_build_filename (dir, "b.pipe", NULL);
  ck_assert (g_file_set_contents (bin, "m!\x01\x9e\x00", 5, NULL));
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (dir, NULL, NULL, &err, "run", bin, NULL), 1);
  ck_assert_msg (strstr (err, "binary data") && !strstr (err, ":1:"), "%s", err);
  g_clear_pointer (&err, g_free);

  /* --set on an input port says what it is. */
  Place p;
  place_init (&p, "d = mnist(limit=20)\nerm = trainer(d)\n");
  ck_assert_int_eq (mtrun_in (&p, NULL, &err, "status", p.pipe, "--set", "erm.dataset=test", NULL), 1);
  ck_assert_msg (strstr (err, "'dataset' is an input port of trainer, not a property") && !strstr (err, "did you mean"),
                 "%s", err);
  g_clear_pointer (&err, g_free);
  place_clear (&p);

  /* A node named PIPELINE keeps its own ref, and the pipeline's. */
  place_init (&p, "PIPELINE = mnist(limit=20)\nb = biaser(PIPELINE)\n");
  ck_assert_int_eq (mtrun_in (&p, NULL, NULL, "run", "-q", p.pipe, NULL), 0);
  ck_assert_int_eq (mtrun_in (&p, NULL, NULL, "cache", "gc", NULL), 0);
  ck_assert_int_eq (mtrun_in (&p, NULL, &err, "run", p.pipe, NULL), 0);
  ck_assert_msg (strstr (err, "0 ran, 2 cached"), "%s", err);
  g_clear_pointer (&err, g_free);
  place_clear (&p);

  /* status reads every digest: a same-size byte flip is not "cached". */
  g_autofree char *entry = place_run (&p);
  g_autoptr (MtCache) c = mt_cache_open (p.cache, NULL);
  g_autofree char *key = g_path_get_basename (entry);
  key[64] = 0;
  g_autoptr (MtManifest) m = mt_cache_lookup (c, key, NULL);
  g_autofree char *obj = mt_cache_output_path (c, m->outputs->pdata[0]);
  g_autofree char *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (obj, &bytes, &len, NULL));
  bytes[len - 1] ^= 1;
  g_chmod (obj, 0644);
  ck_assert (g_file_set_contents (obj, bytes, (gssize) len, NULL));
  g_autofree char *out = NULL;
  ck_assert_int_eq (mtrun_in (&p, &out, NULL, "status", p.pipe, NULL), 0);
  ck_assert_msg (g_regex_match_simple ("^b +biaser +will run", out, G_REGEX_MULTILINE, 0), "%s", out);
  g_clear_pointer (&out, g_free);

  /* gc clears checkpoints of interrupted runs and counts what is inside folders. */
  g_autofree char *ck = g_build_filename (p.cache, "resume", "k", "deep", NULL);
  g_mkdir_with_parents (ck, 0755);
  g_autofree char *blob = g_strnfill (300000, 'x');
  g_free (mt_test_write (ck, "checkpoint.safetensors", blob));
  ck_assert_int_eq (mtrun_in (&p, &out, NULL, "cache", "gc", NULL), 0);
  ck_assert_msg (strstr (out, "checkpoint of an interrupted run") && g_regex_match_simple ("freed \\d+ items?, 0\\.[3-9]", out, 0, 0),
                 "%s", out);
  g_autofree char *rk = g_build_filename (p.cache, "resume", "k", NULL);
  ck_assert (!g_file_test (rk, G_FILE_TEST_EXISTS));
  g_clear_pointer (&out, g_free);

  /* cache ls prints no control character from a manifest. */
  ck_assert_int_eq (mtrun_in (&p, NULL, NULL, "run", "-q", p.pipe, NULL), 0);
  g_autofree char *entry2 = entry_of (&p, "b");
  g_autofree char *text = NULL;
  ck_assert (g_file_get_contents (entry2, &text, NULL, NULL));
  g_autoptr (GRegex) re = g_regex_new ("\"started\" *: *\"[^\"]*\"", 0, 0, NULL);
  g_autofree char *evil = g_regex_replace_literal (re, text, -1, 0, "\"started\":\"\\u001b[2J\\u001b]0;pwned\\u0007\"", 0, NULL);
  replace_file (entry2, evil);
  ck_assert_int_eq (mtrun_in (&p, &out, NULL, "cache", "ls", NULL), 0);
  for (const char *s = out; *s; s++)
    ck_assert_msg ((guchar) *s >= 0x20 || *s == '\n', "cache ls printed control byte 0x%02x:\n%s", (guchar) *s, out);
  ck_assert_msg (strstr (out, "\\x1b[2J"), "%s", out);
  place_clear (&p);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* 9. A 100,000-node pipeline plans (its quadratic sort made it take 42 s); the time is
 * a benchmark's business (bench/bench-plan.sh), this only checks it completes. */
START_TEST (hundred_thousand_nodes)
{
  GString *s = g_string_new ("n0 = mnist(limit=10)\n");
  for (int i = 1; i < 100000; i++)
    g_string_append_printf (s, "n%d = biaser(n%d)\n", i, i - 1);
  Place p;
  place_init (&p, s->str);
  g_string_free (s, TRUE);
  g_autofree char *out = NULL, *err = NULL;
  int rc = mtrun_in (&p, &out, &err, "run", "-n", p.pipe, NULL);
  ck_assert_msg (rc == 0 && strstr (out, "n99999"), "exit %d: %s", rc, err);
  place_clear (&p);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("hardening");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, manifest_missing_an_output);
  tcase_add_test (tc, deeply_nested_manifest);
  tcase_add_test (tc, export_stays_inside_dir);
  tcase_add_test (tc, gc_never_follows_links);
  tcase_add_test (tc, devices_and_fifos_are_refused);
  tcase_add_test (tc, idx_decompression_bomb);
  tcase_add_test (tc, smaller_ones);
  tcase_add_test (tc, hundred_thousand_nodes);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}

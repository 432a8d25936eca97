/* .npy, .safetensors and PNG: round trips, every malformed-file case we detect, and
 * files that NumPy's own parser (and the safetensors rules) accept. */
#define _GNU_SOURCE
#include "tests/mt-test-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static MtTensor *
ramp (MtDType dtype, int ndim, const gint64 *shape)
{
  MtTensor *t = mt_tensor_new (dtype, ndim, shape);
  gint64 n = mt_tensor_numel (t);
  for (gint64 i = 0; i < n; i++) {
    switch (dtype) {
    case MT_DTYPE_F32: ((float *) t->data)[i] = (float) i * 0.5f - 3; break;
    case MT_DTYPE_F64: ((double *) t->data)[i] = (double) i * 0.25 - 1; break;
    case MT_DTYPE_U8: ((guint8 *) t->data)[i] = (guint8) (i * 37); break;
    case MT_DTYPE_I32: ((gint32 *) t->data)[i] = (gint32) (i * 1000 - 7); break;
    case MT_DTYPE_I64: ((gint64 *) t->data)[i] = i * 100000000000LL; break;
    case MT_DTYPE_BOOL: ((guint8 *) t->data)[i] = i % 3 == 0; break;
    }
  }
  return t;
}

static double
tensor_sum (const MtTensor *t)
{
  double s = 0;
  for (gint64 i = 0; i < mt_tensor_numel (t); i++) {
    switch (t->dtype) {
    case MT_DTYPE_F32: s += ((float *) t->data)[i]; break;
    case MT_DTYPE_F64: s += ((double *) t->data)[i]; break;
    case MT_DTYPE_U8: case MT_DTYPE_BOOL: s += ((guint8 *) t->data)[i]; break;
    case MT_DTYPE_I32: s += ((gint32 *) t->data)[i]; break;
    case MT_DTYPE_I64: s += (double) ((gint64 *) t->data)[i]; break;
    }
  }
  return s;
}

START_TEST (npy_round_trip)
{
  const gint64 shapes[][4] = { { 0 }, { 5 }, { 2, 3 }, { 2, 3, 4 }, { 2, 1, 3, 2 }, { 0, 3 } };
  const int ndims[] = { 0, 1, 2, 3, 4, 2 };
  for (MtDType d = MT_DTYPE_F32; d <= MT_DTYPE_BOOL; d++)
    for (guint s = 0; s < G_N_ELEMENTS (ndims); s++) {
      g_autoptr (MtTensor) t = ramp (d, ndims[s], shapes[s]);
      g_autoptr (GBytes) b = mt_npy_encode (t);
      gsize len;
      const guint8 *p = g_bytes_get_data (b, &len);
      /* NumPy aligns the data to 64 bytes; so do we. */
      ck_assert_uint_eq ((len - t->nbytes) % 64, 0);
      ck_assert_int_eq (p[len - t->nbytes - 1], '\n');
      g_autoptr (GError) err = NULL;
      g_autoptr (MtTensor) u = mt_npy_decode (p, len, "mem", &err);
      ck_assert_msg (u != NULL, "%s", err ? err->message : "");
      ck_assert (mt_tensor_equal (t, u));
    }
}
END_TEST

static MtTensor *
decode_str (const char *bytes, gsize len, GError **err)
{
  return mt_npy_decode ((const guint8 *) bytes, len, "bad.npy", err);
}

START_TEST (npy_malformed)
{
  gint64 shape[] = { 4 };
  g_autoptr (MtTensor) t = ramp (MT_DTYPE_F32, 1, shape);
  g_autoptr (GBytes) b = mt_npy_encode (t);
  gsize len;
  const char *p = g_bytes_get_data (b, &len);
  g_autoptr (GError) err = NULL;

  ck_assert_ptr_null (decode_str ("hello", 5, &err));
  ck_assert_msg (strstr (err->message, "bad.npy") && strstr (err->message, "magic"), "%s", err->message);
  g_clear_error (&err);

  ck_assert_ptr_null (decode_str (p, len - 1, &err));  /* truncated data */
  ck_assert_msg (strstr (err->message, "truncated"), "%s", err->message);
  g_clear_error (&err);

  ck_assert_ptr_null (decode_str (p, 20, &err));  /* truncated header */
  ck_assert_msg (strstr (err->message, "truncated header"), "%s", err->message);
  g_clear_error (&err);

  g_autofree char *extra = g_malloc (len + 4);
  memcpy (extra, p, len);
  ck_assert_ptr_null (decode_str (extra, len + 4, &err));  /* trailing bytes */
  ck_assert_msg (strstr (err->message, "promises"), "%s", err->message);
  g_clear_error (&err);

  /* A header naming a key twice means two things: refused (hardening). The padding after
   * the dict has room for a second 'shape'. */
  g_autofree char *dup = g_memdup2 (p, len);
  char *close = memmem (dup, len, "), }", 4);
  ck_assert (close != NULL);
  memcpy (close, "), 'shape': (4,)}", 17);
  ck_assert_ptr_null (decode_str (dup, len, &err));
  ck_assert_msg (strstr (err->message, "header names 'shape' 2 times"), "%s", err->message);
  g_clear_error (&err);

  g_autofree char *c16 = g_memdup2 (p, len);
  char *d = memmem (c16, len, "<f4", 3);
  memcpy (d, "<c8", 3);
  ck_assert_ptr_null (decode_str (c16, len, &err));
  ck_assert_msg (strstr (err->message, "unsupported .npy dtype '<c8'"), "%s", err->message);
  g_clear_error (&err);

  g_autofree char *fort = g_memdup2 (p, len);
  d = memmem (fort, len, "False", 5);
  memcpy (d, "True,", 5);
  ck_assert_ptr_null (decode_str (fort, len, &err));
  ck_assert_msg (strstr (err->message, "Fortran"), "%s", err->message);
  g_clear_error (&err);

  g_autofree char *ver = g_memdup2 (p, len);
  ver[6] = 9;
  ck_assert_ptr_null (decode_str (ver, len, &err));
  ck_assert_msg (strstr (err->message, "version"), "%s", err->message);
}
END_TEST

static char *
run_python (const char *script, const char *const *files)
{
  const char *py = g_getenv ("PYTHON3");
  g_autofree char *path = g_build_filename (g_getenv ("MT_SRCDIR"), "tests", script, NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) py);
  g_ptr_array_add (argv, path);
  for (guint i = 0; files[i]; i++)
    g_ptr_array_add (argv, (gpointer) files[i]);
  g_ptr_array_add (argv, NULL);
  char *out = NULL, *err = NULL;
  int status = 0;
  ck_assert (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "%s failed: %s", script, err);
  g_free (err);
  return out;
}

static gboolean
have_numpy (void)
{
  const char *py = g_getenv ("PYTHON3");
  if (!py || !*py) {
    printf ("SKIP: no python3 with NumPy found by configure\n");
    return FALSE;
  }
  return TRUE;
}

START_TEST (npy_numpy_accepts)
{
  if (!have_numpy ())
    return;
  g_autofree char *dir = mt_test_tmpdir ();
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) expect = g_string_new (NULL);
  gint64 shape[] = { 3, 2, 5 };
  for (MtDType d = MT_DTYPE_F32; d <= MT_DTYPE_BOOL; d++) {
    g_autoptr (MtTensor) t = ramp (d, 3, shape);
    g_autofree char *name = g_strdup_printf ("t%d.npy", d);
    char *p = g_build_filename (dir, name, NULL);
    g_autoptr (GError) err = NULL;
    ck_assert (mt_npy_save (t, p, &err));
    g_ptr_array_add (files, p);
    g_string_append_printf (expect, "%s [3, 2, 5] %.6f 1\n", mt_dtype_name (d), tensor_sum (t));
  }
  g_ptr_array_add (files, NULL);
  g_autofree char *out = run_python ("check_npy.py", (const char *const *) files->pdata);
  ck_assert_str_eq (out, expect->str);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

static MtBundle *
sample_bundle (void)
{
  MtBundle *b = mt_bundle_new ();
  gint64 s1[] = { 16, 3, 3, 3 }, s2[] = { 16 }, s3[] = { 7 }, s4[] = { 0 };
  g_autoptr (MtTensor) w = ramp (MT_DTYPE_F32, 4, s1);
  g_autoptr (MtTensor) bias = ramp (MT_DTYPE_F32, 1, s2);
  g_autoptr (MtTensor) lab = ramp (MT_DTYPE_U8, 1, s3);
  g_autoptr (MtTensor) n = ramp (MT_DTYPE_I64, 0, s4);
  g_autoptr (MtTensor) e = ramp (MT_DTYPE_F64, 1, s4);
  mt_bundle_set (b, "backbone.0.weight", w);
  mt_bundle_set (b, "backbone.0.bias", bias);
  mt_bundle_set (b, "labels", lab);
  mt_bundle_set (b, "backbone.1.num_batches_tracked", n);
  mt_bundle_set (b, "empty", e);
  mt_bundle_set_metadata (b, "format", "pt");
  mt_bundle_set_metadata (b, "arch", "small_cnn");
  return b;
}

START_TEST (safetensors_round_trip)
{
  g_autoptr (MtBundle) b = sample_bundle ();
  g_autoptr (GBytes) bytes = mt_safetensors_encode (b);
  gsize len;
  const guint8 *p = g_bytes_get_data (bytes, &len);
  guint64 hlen;
  memcpy (&hlen, p, 8);
  ck_assert_uint_eq (GUINT64_FROM_LE (hlen) % 8, 0);
  g_autoptr (GError) err = NULL;
  g_autoptr (MtBundle) c = mt_safetensors_decode (p, len, "mem", &err);
  ck_assert_msg (c != NULL, "%s", err ? err->message : "");
  ck_assert_uint_eq (mt_bundle_size (c), mt_bundle_size (b));
  g_autofree const char **names = mt_bundle_names (b);
  for (guint i = 0; names[i]; i++)
    ck_assert (mt_tensor_equal (mt_bundle_get (b, names[i]), mt_bundle_get (c, names[i])));
  ck_assert_str_eq (mt_bundle_get_metadata (c, "arch"), "small_cnn");
  ck_assert_str_eq (mt_bundle_get_metadata (c, "format"), "pt");
}
END_TEST

static void
expect_st_error (const char *json_header, gsize data_len, const char *needle)
{
  gsize hl = strlen (json_header);
  g_autofree guint8 *buf = g_malloc0 (8 + hl + data_len);
  guint64 le = GUINT64_TO_LE ((guint64) hl);
  memcpy (buf, &le, 8);
  memcpy (buf + 8, json_header, hl);
  g_autoptr (GError) err = NULL;
  g_autoptr (MtBundle) b = mt_safetensors_decode (buf, 8 + hl + data_len, "bad.safetensors", &err);
  ck_assert_msg (b == NULL, "accepted: %s", json_header);
  ck_assert_msg (strstr (err->message, "bad.safetensors") && strstr (err->message, needle),
                 "'%s' not in: %s", needle, err->message);
}

START_TEST (safetensors_malformed)
{
  g_autoptr (GError) err = NULL;
  ck_assert_ptr_null (mt_safetensors_decode ((const guint8 *) "abc", 3, "bad.safetensors", &err));
  ck_assert (strstr (err->message, "8-byte"));
  expect_st_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside");
  expect_st_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "need");
  expect_st_error ("{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unsupported dtype");
  expect_st_error ("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                   "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", 3, "gap or overlap");
  expect_st_error ("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4, "gap or overlap");
  expect_st_error ("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 5, "follow the last tensor");
  expect_st_error ("{\"a\": nope}", 0, "not JSON");
  expect_st_error ("[1, 2]", 0, "does not start with");
  expect_st_error ("{\"__metadata__\":{\"k\":1}}", 0, "not a string");
  expect_st_error ("{\"a\":{\"dtype\":\"U8\"}}", 0, "needs dtype, shape and data_offsets");
  /* A header length past the end of the file: a truncated file. */
  guint8 buf[16] = { 200, 0, 0, 0, 0, 0, 0, 0, '{', '}' };
  g_clear_error (&err);
  ck_assert_ptr_null (mt_safetensors_decode (buf, sizeof buf, "bad.safetensors", &err));
  ck_assert_msg (strstr (err->message, "truncated"), "%s", err->message);
}
END_TEST

START_TEST (safetensors_reference_rules_accept)
{
  if (!have_numpy ())
    return;
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *p = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr (MtBundle) b = sample_bundle ();
  g_autoptr (GError) err = NULL;
  ck_assert (mt_safetensors_save (b, p, &err));
  const char *files[] = { p, NULL };
  g_autofree char *out = run_python ("check_safetensors.py", files);
  g_autoptr (GString) expect = g_string_new (NULL);
  g_autofree const char **names = mt_bundle_names (b);
  for (guint i = 0; names[i]; i++) {
    MtTensor *t = mt_bundle_get (b, names[i]);
    g_autofree char *shape = mt_tensor_shape_string (t);
    const char *st = t->dtype == MT_DTYPE_F32 ? "F32" : t->dtype == MT_DTYPE_U8 ? "U8"
                   : t->dtype == MT_DTYPE_I64 ? "I64" : "F64";
    g_string_append_printf (expect, "%s %s %s %.6f\n", names[i], st, shape, tensor_sum (t));
  }
  /* Every tensor line must be there; metadata lines come first, in any order. */
  ck_assert_msg (strstr (out, "metadata arch=small_cnn\n") && strstr (out, "metadata format=pt\n"), "%s", out);
  ck_assert_msg (g_str_has_suffix (out, expect->str), "got:\n%s\nexpected to end with:\n%s", out, expect->str);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* python/masktune_io.py, the NumPy-only loader the README uses, reads what we write as
 * written and rejects damaged files with a ValueError that names them. */
START_TEST (safetensors_numpy_loader)
{
  if (!have_numpy ())
    return;
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *p = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr (MtBundle) b = sample_bundle ();
  g_autoptr (GError) err = NULL;
  ck_assert (mt_safetensors_save (b, p, &err));
  g_autofree char *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (p, &bytes, &len, NULL));
  g_autofree char *cut = g_build_filename (dir, "cut.safetensors", NULL);
  ck_assert (g_file_set_contents (cut, bytes, (gssize) len - 3, NULL));
  g_autofree char *tiny = mt_test_write (dir, "tiny.safetensors", "abc");
  const char *files[] = { p, cut, tiny, NULL };
  g_autofree char *out = run_python ("check_masktune_io.py", files);
  g_autoptr (GString) expect = g_string_new (NULL);
  g_autofree const char **names = mt_bundle_names (b);
  for (guint i = 0; names[i]; i++) {
    MtTensor *t = mt_bundle_get (b, names[i]);
    g_autofree char *shape = mt_tensor_shape_string (t);
    const char *st = t->dtype == MT_DTYPE_F32 ? "F32" : t->dtype == MT_DTYPE_U8 ? "U8"
                   : t->dtype == MT_DTYPE_I64 ? "I64" : "F64";
    g_string_append_printf (expect, "%s %s %s %.6f\n", names[i], st, shape, tensor_sum (t));
  }
  g_autofree char *cut_line = g_strdup_printf ("rejected: %s: not a valid .safetensors file: tensor '", cut);
  g_autofree char *tiny_line = g_strdup_printf ("rejected: %s: not a valid .safetensors file: shorter than its 8-byte "
                                                "header length\n", tiny);
  ck_assert_msg (strstr (out, "metadata arch=small_cnn\n") && strstr (out, expect->str), "got:\n%s\nexpected:\n%s",
                 out, expect->str);
  ck_assert_msg (strstr (out, cut_line) && g_str_has_suffix (out, tiny_line), "%s", out);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (png_round_trip)
{
  g_autofree char *dir = mt_test_tmpdir ();
  const gint64 channels[] = { 1, 3, 4 };
  for (guint c = 0; c < G_N_ELEMENTS (channels); c++) {
    gint64 shape[] = { 28, 30, channels[c] };
    g_autoptr (MtTensor) img = ramp (MT_DTYPE_U8, 3, shape);
    g_autofree char *name = g_strdup_printf ("img%u.png", c);
    g_autofree char *p = g_build_filename (dir, name, NULL);
    g_autoptr (GError) err = NULL;
    ck_assert_msg (mt_png_save (img, p, &err), "%s", err ? err->message : "");
    g_autoptr (MtTensor) back = mt_png_load (p, &err);
    ck_assert_msg (back != NULL, "%s", err ? err->message : "");
    ck_assert (mt_tensor_equal (img, back));
  }
  gint64 bad[] = { 4, 4, 2 };
  g_autoptr (MtTensor) two = mt_tensor_new (MT_DTYPE_U8, 3, bad);
  g_autoptr (GError) err = NULL;
  g_autofree char *p = g_build_filename (dir, "bad.png", NULL);
  ck_assert (!mt_png_save (two, p, &err));
  g_clear_error (&err);
  g_autofree char *notpng = mt_test_write (dir, "not.png", "GIF89a");
  ck_assert_ptr_null (mt_png_load (notpng, &err));
  ck_assert (strstr (err->message, "not.png"));
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (file_write_atomic_and_digest)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *p = g_build_filename (dir, "f.txt", NULL);
  g_autoptr (GError) err = NULL;
  ck_assert (mt_file_write_atomic (p, "abc", 3, &err));
  goffset size = 0;
  g_autofree char *d = mt_file_sha256 (p, &size, &err);
  ck_assert_int_eq (size, 3);
  /* SHA-256("abc") from FIPS 180-2. */
  ck_assert_str_eq (d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_autoptr (GDir) gd = g_dir_open (dir, 0, NULL);
  ck_assert_str_eq (g_dir_read_name (gd), "f.txt");
  ck_assert_ptr_null (g_dir_read_name (gd));  /* no temp file left behind */
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* Numbers in their shortest round-trip form; the text reads back as the same values. */
START_TEST (json_writer_shortest_numbers)
{
  const double values[] = { 0.8, 0.1, 1.0 / 3.0, 5e-324, 1e300, -2.5, 100.0, 0.9234296831573097 };
  const char *texts[] = { "0.8", "0.1", "0.3333333333333333", "5e-324", "1e+300", "-2.5", "100.0",
                          "0.9234296831573097" };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
    g_autoptr (JsonNode) n = json_node_init_double (json_node_alloc (), values[i]);
    g_autofree char *s = mt_json_to_string (n, FALSE);
    ck_assert_str_eq (s, texts[i]);
    g_autoptr (JsonNode) back = mt_json_parse (s, strlen (s), 100, "test", NULL);
    ck_assert_ptr_nonnull (back);
    ck_assert_int_eq (json_node_get_value_type (back), G_TYPE_DOUBLE);
    ck_assert (json_node_get_double (back) == values[i]);
  }
  /* Not-a-number has no JSON form: null, so the file stays JSON. */
  g_autoptr (JsonNode) nan_node = json_node_init_double (json_node_alloc (), NAN);
  g_autofree char *nan_text = mt_json_to_string (nan_node, FALSE);
  ck_assert_str_eq (nan_text, "null");

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "z\"\n\x01");
  json_builder_add_int_value (b, -3);
  json_builder_set_member_name (b, "a");
  json_builder_begin_array (b);
  json_builder_add_boolean_value (b, TRUE);
  json_builder_add_null_value (b);
  json_builder_add_string_value (b, "é");
  json_builder_end_array (b);
  json_builder_set_member_name (b, "e");
  json_builder_begin_object (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *compact = mt_json_to_string (root, FALSE);
  ck_assert_str_eq (compact, "{\"z\\\"\\n\\u0001\":-3,\"a\":[true,null,\"é\"],\"e\":{}}");
  g_autofree char *pretty = mt_json_to_string (root, TRUE);
  ck_assert_str_eq (pretty, "{\n  \"z\\\"\\n\\u0001\": -3,\n  \"a\": [\n    true,\n    null,\n    \"é\"\n  ],\n  \"e\": {}\n}");
  /* json-glib reads what we write as the same tree. */
  g_autoptr (JsonNode) back = mt_json_parse (pretty, strlen (pretty), 1000, "test", NULL);
  ck_assert (json_node_equal (back, root));
}
END_TEST

START_TEST (bundle_prefixes)
{
  g_autoptr (MtBundle) w = mt_bundle_new ();
  gint64 shape[] = { 2 };
  g_autoptr (MtTensor) a = mt_tensor_new (MT_DTYPE_F32, 1, shape);
  g_autoptr (MtTensor) b = mt_tensor_new (MT_DTYPE_I64, 1, shape);
  ((float *) a->data)[1] = 3.5f;
  mt_bundle_set (w, "x.weight", a);
  mt_bundle_set (w, "y", b);
  g_autoptr (MtBundle) ck = mt_bundle_new ();
  mt_bundle_add_prefixed (ck, "model", w);
  ck_assert_uint_eq (mt_bundle_size (ck), 2);
  ck_assert_ptr_eq (mt_bundle_get (ck, "model.x.weight"), a);
  ck_assert_ptr_nonnull (mt_bundle_get (ck, "model.y"));
  /* Taking them back replaces each tensor by the prefixed one. */
  g_autoptr (MtBundle) fresh = mt_bundle_new ();
  g_autoptr (MtTensor) z = mt_tensor_new (MT_DTYPE_F32, 1, shape);
  mt_bundle_set (fresh, "x.weight", z);
  g_autofree char *missing = NULL;
  ck_assert (mt_bundle_take_prefixed (fresh, "model", ck, &missing));
  ck_assert_ptr_null (missing);
  ck_assert_float_eq (((float *) mt_bundle_get (fresh, "x.weight")->data)[1], 3.5f);
  /* A missing one is named. */
  mt_bundle_set (fresh, "extra", z);
  ck_assert (!mt_bundle_take_prefixed (fresh, "model", ck, &missing));
  ck_assert_str_eq (missing, "model.extra");
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("formats");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, bundle_prefixes);
  tcase_add_test (tc, json_writer_shortest_numbers);
  tcase_add_test (tc, npy_round_trip);
  tcase_add_test (tc, npy_malformed);
  tcase_add_test (tc, npy_numpy_accepts);
  tcase_add_test (tc, safetensors_round_trip);
  tcase_add_test (tc, safetensors_malformed);
  tcase_add_test (tc, safetensors_reference_rules_accept);
  tcase_add_test (tc, safetensors_numpy_loader);
  tcase_add_test (tc, png_round_trip);
  tcase_add_test (tc, file_write_atomic_and_digest);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}

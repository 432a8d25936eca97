#include "ml/mt-dataset.h"
#include "base/mt-error.h"
#include "base/mt-rng.h"
#include "ml/mt-loader.h"

#include <stdlib.h>
#include <string.h>

static gboolean
check_vector (MtBundle *b, const char *name, MtDType dtype, gint64 n, gboolean required,
              const char *what, GError **error)
{
  MtTensor *t = mt_bundle_get (b, name);
  if (!t) {
    if (required)
      g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: the dataset has no '%s' tensor", what, name);
    return !required;
  }
  if (t->dtype != dtype || t->ndim != 1 || t->shape[0] != n) {
    g_autofree char *shape = mt_tensor_shape_string (t);
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: '%s' must be %s [%" G_GINT64_FORMAT "], not %s %s",
                 what, name, mt_dtype_name (dtype), n, mt_dtype_name (t->dtype), shape);
    return FALSE;
  }
  return TRUE;
}

gboolean
mt_dataset_is_streamed (MtBundle *b)
{
  return !mt_bundle_get (b, MT_DATASET_IMAGES) && mt_bundle_get (b, MT_DATASET_PATHS);
}

static gboolean
parse_shape (const char *text, gint64 out[3])
{
  if (!text)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  if (g_strv_length (parts) != 3)
    return FALSE;
  for (int i = 0; i < 3; i++) {
    char *end = NULL;
    out[i] = g_ascii_strtoll (parts[i], &end, 10);
    if (!end || *end || out[i] < 1 || out[i] > 65536)
      return FALSE;
  }
  return out[0] == 1 || out[0] == 3;
}

/* The streamed form: paths that split into N names, sizes, shape, and an optional keep. */
static gboolean
check_streamed (MtBundle *b, const char *what, GError **error)
{
  MtTensor *labels = mt_bundle_get (b, MT_DATASET_LABELS), *paths = mt_bundle_get (b, MT_DATASET_PATHS);
  if (!labels || labels->ndim != 1) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: the dataset has no 'labels' vector", what);
    return FALSE;
  }
  gint64 n = labels->shape[0], names = 0, shape[3];
  if (paths->dtype != MT_DTYPE_U8 || paths->ndim != 1 || (paths->nbytes && ((guint8 *) paths->data)[paths->nbytes - 1])) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: 'paths' must be uint8 names, each ending in a NUL", what);
    return FALSE;
  }
  for (gsize i = 0; i < paths->nbytes; i++)
    names += ((guint8 *) paths->data)[i] == 0;
  if (names != n) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: %" G_GINT64_FORMAT " paths for %" G_GINT64_FORMAT " labels",
                 what, names, n);
    return FALSE;
  }
  if (!mt_bundle_get_metadata (b, "stream_root") || !parse_shape (mt_bundle_get_metadata (b, "stream_shape"), shape)) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: a streamed dataset needs stream_root and stream_shape (C,H,W)",
                 what);
    return FALSE;
  }
  MtTensor *keep = mt_bundle_get (b, MT_DATASET_KEEP);
  if (keep && (keep->dtype != MT_DTYPE_U8 || keep->ndim != 3 || keep->shape[0] != n || keep->shape[1] != shape[1] ||
               keep->shape[2] != shape[2])) {
    g_autofree char *ks = mt_tensor_shape_string (keep);
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: 'keep' must be uint8 [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                 ", %" G_GINT64_FORMAT "], not %s", what, n, shape[1], shape[2], ks);
    return FALSE;
  }
  return check_vector (b, MT_DATASET_SIZES, MT_DTYPE_I64, n, TRUE, what, error);
}

gboolean
mt_dataset_check (MtBundle *b, const char *what, GError **error)
{
  g_return_val_if_fail (b != NULL, FALSE);
  MtTensor *img = mt_bundle_get (b, MT_DATASET_IMAGES);
  gint64 n = 0;
  if (!img && mt_bundle_get (b, MT_DATASET_PATHS)) {
    if (!check_streamed (b, what, error))
      return FALSE;
    n = mt_bundle_get (b, MT_DATASET_LABELS)->shape[0];
  } else if (!img) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: the dataset has no 'images' tensor", what);
    return FALSE;
  } else if (img->dtype != MT_DTYPE_U8 || img->ndim != 4 || (img->shape[1] != 1 && img->shape[1] != 3)) {
    g_autofree char *shape = mt_tensor_shape_string (img);
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: 'images' must be uint8 [N, 1 or 3, H, W], not %s %s",
                 what, mt_dtype_name (img->dtype), shape);
    return FALSE;
  } else {
    n = img->shape[0];
  }
  /* Held or streamed, the per-sample vectors are the same. */
  return check_vector (b, MT_DATASET_LABELS, MT_DTYPE_I64, n, TRUE, what, error) &&
         check_vector (b, MT_DATASET_DIGITS, MT_DTYPE_I64, n, FALSE, what, error) &&
         check_vector (b, MT_DATASET_PATCHED, MT_DTYPE_U8, n, FALSE, what, error) &&
         check_vector (b, MT_DATASET_GROUPS, MT_DTYPE_I64, n, FALSE, what, error);
}

gint64
mt_dataset_size (MtBundle *b)
{
  g_return_val_if_fail (b != NULL, 0);
  MtTensor *img = mt_bundle_get (b, MT_DATASET_IMAGES);
  MtTensor *labels = mt_bundle_get (b, MT_DATASET_LABELS);
  return img ? img->shape[0] : labels && labels->ndim == 1 ? labels->shape[0] : 0;
}

void
mt_dataset_images_shape (MtBundle *b, gint64 shape[4])
{
  MtTensor *img = mt_bundle_get (b, MT_DATASET_IMAGES);
  if (img && img->ndim == 4) {
    memcpy (shape, img->shape, 4 * sizeof (gint64));
    return;
  }
  shape[0] = mt_dataset_size (b);
  if (!parse_shape (mt_bundle_get_metadata (b, "stream_shape"), shape + 1))
    shape[1] = shape[2] = shape[3] = 0;
}

gboolean
mt_dataset_require_in_memory (MtBundle *b, const char *who, GError **error)
{
  if (!mt_dataset_is_streamed (b))
    return TRUE;
  g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s rewrites pixels, so it needs a dataset held in memory; this one "
               "is streamed from %s (give its node load=\"memory\")", who, mt_bundle_get_metadata (b, "stream_root"));
  return FALSE;
}

MtBundle *
mt_dataset_new_streamed (const char *root, GPtrArray *paths, MtTensor *sizes, MtTensor *labels, MtTensor *groups,
                         int resize, int crop, int c, int h, int w)
{
  GByteArray *names = g_byte_array_new ();
  for (guint i = 0; i < paths->len; i++)
    g_byte_array_append (names, (const guint8 *) paths->pdata[i], (guint) strlen (paths->pdata[i]) + 1);
  gint64 pshape[] = { names->len };
  g_autoptr (MtTensor) pt = mt_tensor_new_from_data (MT_DTYPE_U8, 1, pshape, names->data);
  g_byte_array_unref (names);
  MtBundle *b = mt_bundle_new ();
  mt_bundle_set (b, MT_DATASET_PATHS, pt);
  mt_bundle_set (b, MT_DATASET_SIZES, sizes);
  mt_bundle_set (b, MT_DATASET_LABELS, labels);
  if (groups)
    mt_bundle_set (b, MT_DATASET_GROUPS, groups);
  g_autofree char *rs = g_strdup_printf ("%d", resize), *cs = g_strdup_printf ("%d", crop);
  g_autofree char *shape = g_strdup_printf ("%d,%d,%d", c, h, w);
  mt_bundle_set_metadata (b, "stream_root", root);
  mt_bundle_set_metadata (b, "stream_resize", rs);
  mt_bundle_set_metadata (b, "stream_crop", cs);
  mt_bundle_set_metadata (b, "stream_shape", shape);
  return b;
}

MtBundle *
mt_dataset_apply_mask (MtBundle *data, const MtTensor *keep)
{
  g_return_val_if_fail (data != NULL, NULL);
  MtTensor *images = mt_bundle_get (data, MT_DATASET_IMAGES);
  g_autoptr (MtTensor) masked = NULL;
  const char *replaced = MT_DATASET_IMAGES;
  if (images) {
    gint64 n = images->shape[0], c = images->shape[1], hw = images->shape[2] * images->shape[3];
    masked = mt_tensor_new_from_data (MT_DTYPE_U8, 4, images->shape, images->data);
    for (gint64 i = 0; i < n; i++) {
      const guint8 *k = (const guint8 *) keep->data + i * hw;
      guint8 *img = (guint8 *) masked->data + i * c * hw;
      for (gint64 ch = 0; ch < c; ch++)
        for (gint64 p = 0; p < hw; p++)
          if (!k[p])
            img[ch * hw + p] = 0;
    }
  } else {
    /* Streamed: the loader applies the mask; a second mask adds to the first. */
    replaced = MT_DATASET_KEEP;
    masked = mt_tensor_new_from_data (MT_DTYPE_U8, 3, keep->shape, keep->data);
    MtTensor *before = mt_bundle_get (data, MT_DATASET_KEEP);
    for (gsize i = 0; before && i < masked->nbytes; i++)
      ((guint8 *) masked->data)[i] = ((guint8 *) masked->data)[i] && ((guint8 *) before->data)[i];
  }
  MtBundle *out = mt_bundle_new ();
  g_autofree const char **names = mt_bundle_names (data);
  for (guint i = 0; names[i]; i++)
    if (!g_str_equal (names[i], replaced))
      mt_bundle_set (out, names[i], mt_bundle_get (data, names[i]));
  mt_bundle_set (out, replaced, masked);
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, mt_bundle_metadata (data));
  while (g_hash_table_iter_next (&it, &key, &value))
    mt_bundle_set_metadata (out, key, value);
  return out;
}

/* A 3x5 pixel font: each glyph is 5 rows of 3 bits, most significant bit left. */
static const guint8 font3x5[][5] = {
  { 7, 5, 5, 5, 7 }, { 2, 6, 2, 2, 7 }, { 7, 1, 7, 4, 7 }, { 7, 1, 7, 1, 7 }, { 5, 5, 7, 1, 1 },
  { 7, 4, 7, 1, 7 }, { 7, 4, 7, 5, 7 }, { 7, 1, 1, 1, 1 }, { 7, 5, 7, 5, 7 }, { 7, 5, 7, 1, 7 },
  { 1, 1, 2, 4, 4 },  /* '/' (index 10) */
  { 0, 0, 7, 0, 0 },  /* '-' (index 11) */
};

static void
put (guint8 *img, gint64 w, gint64 x, gint64 y, const guint8 rgb[3])
{
  memcpy (img + (y * w + x) * 3, rgb, 3);
}

static void
draw_text (guint8 *img, gint64 w, gint64 x0, gint64 y0, guint scale, const char *text, const guint8 rgb[3])
{
  for (const char *c = text; *c; c++, x0 += 4 * scale) {
    int g = *c >= '0' && *c <= '9' ? *c - '0' : *c == '/' ? 10 : *c == '-' ? 11 : -1;
    if (g < 0)
      continue;
    for (int r = 0; r < 5; r++)
      for (int b = 0; b < 3; b++)
        if (font3x5[g][r] & (4 >> b))
          for (guint sy = 0; sy < scale; sy++)
            for (guint sx = 0; sx < scale; sx++)
              put (img, w, x0 + b * scale + sx, y0 + r * scale + sy, rgb);
  }
}

static int
cmp_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

gint64 *
mt_dataset_pick (MtBundle *b, MtDatasetPick how, guint count, guint64 seed, guint *n_out)
{
  g_return_val_if_fail (b != NULL && n_out != NULL, NULL);
  gint64 n = mt_dataset_size (b);
  guint k = (guint) MIN ((gint64) count, n);
  gint64 *out = g_new0 (gint64, MAX (k, 1));
  *n_out = k;
  if (how == MT_DATASET_PICK_FIRST) {
    for (guint i = 0; i < k; i++)
      out[i] = i;
    return out;
  }
  if (how == MT_DATASET_PICK_RANDOM) {
    /* The first k of a seeded Fisher-Yates shuffle, shown in index order. */
    g_autofree gint64 *all = g_new (gint64, MAX (n, 1));
    for (gint64 i = 0; i < n; i++)
      all[i] = i;
    MtRng rng;
    mt_rng_seed (&rng, seed);
    for (guint i = 0; i < k; i++) {
      gint64 j = i + (gint64) mt_rng_below (&rng, (guint64) (n - i));
      gint64 t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    memcpy (out, all, k * sizeof (gint64));
    qsort (out, k, sizeof (gint64), cmp_gint64);
    return out;
  }
  /* Per group: one from each group in turn (by group id), each group in index order. */
  MtTensor *by = mt_bundle_get (b, MT_DATASET_GROUPS);
  if (!by || by->dtype != MT_DTYPE_I64 || by->shape[0] != n)
    by = mt_bundle_get (b, MT_DATASET_LABELS);
  if (!by || by->dtype != MT_DTYPE_I64 || by->shape[0] != n) {
    for (guint i = 0; i < k; i++)
      out[i] = i;
    return out;
  }
  const gint64 *g = by->data;
  g_autofree gint64 *ids = g_memdup2 (g, n * sizeof (gint64));
  qsort (ids, n, sizeof (gint64), cmp_gint64);
  gint64 n_groups = 0;
  for (gint64 i = 0; i < n; i++)
    if (i == 0 || ids[i] != ids[i - 1])
      ids[n_groups++] = ids[i];
  g_autofree gint64 *next = g_new0 (gint64, MAX (n_groups, 1));  /* scan position per group */
  guint taken = 0;
  while (taken < k) {
    for (gint64 c = 0; c < n_groups && taken < k; c++) {
      while (next[c] < n && g[next[c]] != ids[c])
        next[c]++;
      if (next[c] < n)
        out[taken++] = next[c]++;
    }
  }
  return out;
}

MtTensor *
mt_dataset_render_grid (MtBundle *b, const gint64 *rows_at, guint n_rows, guint columns, guint scale,
                        GError **error)
{
  g_return_val_if_fail (b != NULL, NULL);
  if (!mt_dataset_check (b, "dataset", error))
    return NULL;
  MtTensor *labels = mt_bundle_get (b, MT_DATASET_LABELS);
  MtTensor *groups = mt_bundle_get (b, MT_DATASET_GROUPS);
  MtTensor *patched = mt_bundle_get (b, MT_DATASET_PATCHED);
  gint64 n = n_rows;
  if (n == 0 || columns == 0 || scale == 0) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "nothing to draw: the dataset is empty");
    return NULL;
  }
  gint64 shape4[4];
  mt_dataset_images_shape (b, shape4);
  for (gint64 i = 0; i < n; i++)
    if (rows_at[i] < 0 || rows_at[i] >= shape4[0]) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "sample %" G_GINT64_FORMAT " is outside the %" G_GINT64_FORMAT
                   " samples", rows_at[i], shape4[0]);
      return NULL;
    }
  /* Only the samples drawn are read (a streamed dataset decodes just those). */
  g_autoptr (MtTensor) picked = mt_loader_gather (b, rows_at, n, error);
  if (!picked)
    return NULL;
  gint64 c = shape4[1], h = shape4[2], w = shape4[3];
  gint64 cols = MIN ((gint64) columns, n), rows = (n + cols - 1) / cols;
  gint64 border = 2, text_h = 7 * (gint64) scale;
  gint64 tile_w = w * scale + 2 * border, tile_h = h * scale + 2 * border + text_h;
  gint64 pad = 4;
  gint64 shape[3] = { rows * (tile_h + pad) + pad, cols * (tile_w + pad) + pad, 3 };
  MtTensor *grid = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  guint8 *out = grid->data;
  memset (out, 255, grid->nbytes);
  const guint8 frame_patched[3] = { 255, 140, 0 }, frame_plain[3] = { 150, 150, 150 }, ink[3] = { 0, 0, 0 };
  const guint8 *px = picked->data;

  for (gint64 k = 0; k < n; k++) {
    gint64 i = rows_at[k];
    gint64 x0 = pad + (k % cols) * (tile_w + pad), y0 = pad + (k / cols) * (tile_h + pad);
    gboolean is_patched = patched && ((guint8 *) patched->data)[i];
    const guint8 *frame = is_patched ? frame_patched : frame_plain;
    for (gint64 y = 0; y < h * scale + 2 * border; y++)
      for (gint64 x = 0; x < tile_w; x++)
        put (out, shape[1], x0 + x, y0 + y, frame);
    const guint8 *src = px + k * c * h * w;
    for (gint64 y = 0; y < h * (gint64) scale; y++)
      for (gint64 x = 0; x < w * (gint64) scale; x++) {
        gint64 sy = y / scale, sx = x / scale;
        guint8 rgb[3];
        for (int ch = 0; ch < 3; ch++)
          rgb[ch] = src[(c == 3 ? ch : 0) * h * w + sy * w + sx];
        put (out, shape[1], x0 + border + x, y0 + border + y, rgb);
      }
    g_autofree char *text = groups
      ? g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, ((gint64 *) labels->data)[i], ((gint64 *) groups->data)[i])
      : g_strdup_printf ("%" G_GINT64_FORMAT, ((gint64 *) labels->data)[i]);
    draw_text (out, shape[1], x0 + border, y0 + h * scale + 2 * border + scale, scale, text, ink);
  }
  return grid;
}

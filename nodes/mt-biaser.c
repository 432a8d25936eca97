#include "nodes/mt-biaser.h"
#include "ml/mt-dataset.h"
#include "runtime/mt-enum.h"
#include "base/mt-error.h"
#include "base/mt-rng.h"

#include <math.h>
#include <string.h>

struct _MtBiaser {
  MtNode parent_instance;
  GVariant *class_map;   /* ax: source label -> class */
  double conflict_ratio;
  MtPatchKind patch;
  int size;
  MtPatchPosition position;
  GVariant *color;       /* ax: R, G, B */
  MtBiasMode mode;
  MtSelection selection;
  gint64 seed;
};

G_DEFINE_FINAL_TYPE (MtBiaser, mt_biaser, MT_TYPE_NODE)

#define DEFAULT_CONFLICT_RATIO 0.01
#define DEFAULT_PATCH MT_PATCH_SQUARE
#define DEFAULT_SIZE 4
#define DEFAULT_POSITION MT_POS_TOP_LEFT
#define DEFAULT_MODE MT_BIAS_MODE_BIASED
#define DEFAULT_SELECTION MT_SELECT_FIRST
/* Labels 0-4 are class 0, 5-9 class 1; the patch is red. */
static const gint64 biaser_default_class_map[10] = { 0, 0, 0, 0, 0, 1, 1, 1, 1, 1 };
static const gint64 biaser_default_color[3] = { 255, 0, 0 };

enum { PROP_0, PROP_CLASS_MAP, PROP_CONFLICT_RATIO, PROP_PATCH, PROP_SIZE, PROP_POSITION,
       PROP_COLOR, PROP_MODE, PROP_SELECTION, PROP_SEED };

MT_DEFINE_ENUM_TYPE (biaser_patch_kind_type, "MtPatchKind",
             { MT_PATCH_SQUARE, "MT_PATCH_SQUARE", "square" },
             { MT_PATCH_BACKGROUND, "MT_PATCH_BACKGROUND", "background" },
             { MT_PATCH_FOREGROUND, "MT_PATCH_FOREGROUND", "foreground" },
             { MT_PATCH_TEXTURE, "MT_PATCH_TEXTURE", "texture" })
MT_DEFINE_ENUM_TYPE (biaser_position_type, "MtPatchPosition",
             { MT_POS_TOP_LEFT, "MT_POS_TOP_LEFT", "top_left" },
             { MT_POS_TOP_RIGHT, "MT_POS_TOP_RIGHT", "top_right" },
             { MT_POS_BOTTOM_LEFT, "MT_POS_BOTTOM_LEFT", "bottom_left" },
             { MT_POS_BOTTOM_RIGHT, "MT_POS_BOTTOM_RIGHT", "bottom_right" },
             { MT_POS_CENTER, "MT_POS_CENTER", "center" })
MT_DEFINE_ENUM_TYPE (biaser_mode_type, "MtBiasMode",
             { MT_BIAS_MODE_BIASED, "MT_BIAS_MODE_BIASED", "biased" },
             { MT_BIAS_MODE_RAW, "MT_BIAS_MODE_RAW", "raw" })
MT_DEFINE_ENUM_TYPE (biaser_selection_type, "MtSelection",
             { MT_SELECT_FIRST, "MT_SELECT_FIRST", "first" },
             { MT_SELECT_RANDOM, "MT_SELECT_RANDOM", "random" })

gint64
mt_biaser_patched_count (gint64 n, double fraction)
{
  /* A tiny tolerance so that 0.99 * 1000 = 990.0000000000001 and 0.29 * 100 =
   * 28.999999999999996 both count as the whole numbers they stand for. */
  return (gint64) floor (fraction * (double) n + 0.5 + 1e-9);
}

static const gint64 *
biaser_int_list (GVariant *v, gsize *n)
{
  return g_variant_get_fixed_array (v, n, sizeof (gint64));
}

/* On a bad value, *property names the property at fault. */
static gboolean
biaser_check_settings (MtBiaser *self, guint8 rgb[3], gint64 *n_classes, const char **property, GError **error)
{
  gsize n = 0;
  *property = "color";
  const gint64 *c = biaser_int_list (self->color, &n);
  if (n != 3) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "color must be [R, G, B], got %" G_GSIZE_FORMAT " values", n);
    return FALSE;
  }
  for (int k = 0; k < 3; k++) {
    if (c[k] < 0 || c[k] > 255) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "color component %" G_GINT64_FORMAT " is outside 0..255", c[k]);
      return FALSE;
    }
    rgb[k] = (guint8) c[k];
  }
  *property = "class-map";
  const gint64 *map = biaser_int_list (self->class_map, &n);
  if (n != 10) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID,
                 "class_map must give a class for each of the 10 labels, got %" G_GSIZE_FORMAT " values", n);
    return FALSE;
  }
  *n_classes = 0;
  for (gsize i = 0; i < n; i++) {
    if (map[i] < 0 || map[i] > 9) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "class_map maps label %" G_GSIZE_FORMAT " to %" G_GINT64_FORMAT
                   " (classes are 0-9)", i, map[i]);
      return FALSE;
    }
    *n_classes = MAX (*n_classes, map[i] + 1);
  }
  if (*n_classes < 2) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "class_map must make at least two classes");
    return FALSE;
  }
  *property = NULL;
  return TRUE;
}

static gboolean
biaser_validate (MtNode *node, const char **property, GError **error)
{
  guint8 rgb[3];
  gint64 n_classes = 0;
  return biaser_check_settings (MT_BIASER (node), rgb, &n_classes, property, error);
}

/* Marks in @patched (zeroed by the caller) which samples of each class carry the patch. */
static void
biaser_choose (MtBiaser *self, const gint64 *classes, gint64 n, gint64 n_classes, guint8 *patched)
{
  if (self->mode == MT_BIAS_MODE_RAW)
    return;
  MtRng rng;
  mt_rng_seed (&rng, (guint64) self->seed);
  g_autofree gint64 *members = g_new (gint64, n);
  for (gint64 c = 0; c < n_classes; c++) {
    gint64 m = 0;
    for (gint64 i = 0; i < n; i++)
      if (classes[i] == c)
        members[m++] = i;
    /* Class 0 carries the shortcut; r is the share of samples that contradict it. */
    double fraction = c == 0 ? 1.0 - self->conflict_ratio : self->conflict_ratio;
    gint64 k = mt_biaser_patched_count (m, fraction);
    if (self->selection == MT_SELECT_RANDOM)
      mt_rng_shuffle (&rng, members, m);
    for (gint64 j = 0; j < k; j++)
      patched[members[j]] = 1;
  }
}

static void
biaser_patch_origin (MtBiaser *self, gint64 h, gint64 w, gint64 *y0, gint64 *x0)
{
  gint64 s = self->size;
  switch (self->position) {
  case MT_POS_TOP_LEFT: *y0 = 0; *x0 = 0; break;
  case MT_POS_TOP_RIGHT: *y0 = 0; *x0 = w - s; break;
  case MT_POS_BOTTOM_LEFT: *y0 = h - s; *x0 = 0; break;
  case MT_POS_BOTTOM_RIGHT: *y0 = h - s; *x0 = w - s; break;
  case MT_POS_CENTER: *y0 = (h - s) / 2; *x0 = (w - s) / 2; break;
  }
}

/* The two backgrounds of patch="texture", a Waterbirds-like place: "water" (waves in
 * the colour given, for patched samples) and "land" (green-brown blotches, for the
 * others), each shifted by a phase drawn per sample so no two images share one. */
static void
biaser_texture (gboolean water, const guint8 rgb[3], gint64 w, gint64 y, gint64 x, const double ph[3], guint8 out[3])
{
  double t;
  if (water) {
    t = 0.5 + 0.5 * sin (2 * G_PI * (y / 6.0 + ph[0]) + 1.3 * sin (2 * G_PI * (x / (double) MAX (w, 1) * 2 + ph[1])));
    for (int k = 0; k < 3; k++)
      out[k] = (guint8) CLAMP (rgb[k] * (0.55 + 0.6 * t), 0, 255);
    return;
  }
  static const double land[3] = { 120, 140, 60 }, soil[3] = { 110, 80, 45 };
  t = 0.5 + 0.25 * sin (2 * G_PI * (x / 9.0 + ph[0])) * sin (2 * G_PI * (y / 7.0 + ph[1])) +
      0.25 * sin (2 * G_PI * ((x + y) / 13.0 + ph[2]));
  for (int k = 0; k < 3; k++)
    out[k] = (guint8) CLAMP (soil[k] + (land[k] - soil[k]) * 2 * t, 0, 255);
}

/* Writes sample @index as RGB into @dst, with the patch when asked. */
static void
biaser_paint (MtBiaser *self, const guint8 *src, gint64 c, gint64 h, gint64 w, gboolean patch,
       const guint8 rgb[3], gint64 index, guint8 *dst)
{
  gint64 hw = h * w;
  for (int k = 0; k < 3; k++)
    memcpy (dst + k * hw, src + (c == 3 ? k : 0) * hw, hw);
  if (self->patch == MT_PATCH_TEXTURE && self->mode == MT_BIAS_MODE_BIASED) {
    /* Every sample gets a place: the item's strokes over water (patched) or land. */
    MtRng rng;
    mt_rng_seed (&rng, (guint64) self->seed ^ (0x9E3779B97F4A7C15ULL * (guint64) (index + 1)));
    double ph[3] = { mt_rng_uniform (&rng), mt_rng_uniform (&rng), mt_rng_uniform (&rng) };
    for (gint64 y = 0; y < h; y++)
      for (gint64 x = 0; x < w; x++) {
        gint64 p = y * w + x;
        guint8 bg[3];
        biaser_texture (patch, rgb, w, y, x, ph, bg);
        guint g = src[p];
        for (int k = 0; k < 3; k++)
          dst[k * hw + p] = (guint8) ((g * 255 + (255 - g) * bg[k] + 127) / 255);
      }
    return;
  }
  if (!patch || self->patch == MT_PATCH_TEXTURE)
    return;
  if (self->patch == MT_PATCH_SQUARE) {
    gint64 y0 = 0, x0 = 0;
    biaser_patch_origin (self, h, w, &y0, &x0);
    for (int k = 0; k < 3; k++)
      for (gint64 y = y0; y < y0 + self->size; y++)
        memset (dst + k * hw + y * w + x0, rgb[k], self->size);
    return;
  }
  /* Colour the strokes (foreground) or what lies behind them (background), in
   * proportion to the grey value, so anti-aliased edges stay smooth. */
  for (gint64 p = 0; p < hw; p++) {
    guint g = src[p];
    for (int k = 0; k < 3; k++) {
      guint v = self->patch == MT_PATCH_FOREGROUND ? (g * rgb[k] + 127) / 255
                                                   : (g * 255 + (255 - g) * rgb[k] + 127) / 255;
      dst[k * hw + p] = (guint8) v;
    }
  }
}

static gboolean
biaser_run (MtNode *node, MtContext *ctx, GError **error)
{
  MtBiaser *self = MT_BIASER (node);
  guint8 rgb[3];
  gint64 n_classes = 0;
  const char *property = NULL;
  if (!biaser_check_settings (self, rgb, &n_classes, &property, error))
    return FALSE;
  g_autoptr (MtBundle) in = mt_context_load_bundle (ctx, "dataset", error);
  if (!in || !mt_dataset_check (in, "biaser input", error) || !mt_dataset_require_in_memory (in, "biaser", error))
    return FALSE;
  MtTensor *images = mt_bundle_get (in, MT_DATASET_IMAGES);
  MtTensor *labels = mt_bundle_get (in, MT_DATASET_LABELS);
  gint64 n = images->shape[0], c = images->shape[1], h = images->shape[2], w = images->shape[3];
  if (self->patch == MT_PATCH_SQUARE && (self->size > h || self->size > w)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "a %d-pixel patch does not fit %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " images",
                 self->size, h, w);
    return FALSE;
  }
  gsize nmap = 0;
  const gint64 *map = biaser_int_list (self->class_map, &nmap);
  const gint64 *digits = labels->data;
  gint64 vshape[] = { n };
  g_autoptr (MtTensor) classes = mt_tensor_new (MT_DTYPE_I64, 1, vshape);
  gint64 *cls = classes->data;
  for (gint64 i = 0; i < n; i++) {
    if (digits[i] < 0 || digits[i] >= (gint64) nmap) {
      g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "sample %" G_GINT64_FORMAT " has label %" G_GINT64_FORMAT
                   ", which class_map does not map", i, digits[i]);
      return FALSE;
    }
    cls[i] = map[digits[i]];
  }
  g_autoptr (MtTensor) patched = mt_tensor_new (MT_DTYPE_U8, 1, vshape);  /* zeroed */
  biaser_choose (self, cls, n, n_classes, patched->data);

  gint64 ishape[] = { n, 3, h, w };
  g_autoptr (MtTensor) out = mt_tensor_new (MT_DTYPE_U8, 4, ishape);
  g_autoptr (MtTensor) groups = mt_tensor_new (MT_DTYPE_I64, 1, vshape);
  g_autoptr (MtTensor) digits_out = mt_tensor_new_from_data (MT_DTYPE_I64, 1, vshape, digits);
  const guint8 *pat = patched->data;
  for (gint64 i = 0; i < n; i++) {
    biaser_paint (self, (const guint8 *) images->data + i * c * h * w, c, h, w, pat[i], rgb, i,
           (guint8 *) out->data + i * 3 * h * w);
    ((gint64 *) groups->data)[i] = cls[i] * 2 + pat[i];
    if ((i & 4095) == 0)
      mt_context_progress (ctx, (double) i / (double) n);
  }

  g_autoptr (MtBundle) b = mt_bundle_new ();
  mt_bundle_set (b, MT_DATASET_IMAGES, out);
  mt_bundle_set (b, MT_DATASET_LABELS, classes);
  mt_bundle_set (b, MT_DATASET_DIGITS, digits_out);
  mt_bundle_set (b, MT_DATASET_PATCHED, patched);
  mt_bundle_set (b, MT_DATASET_GROUPS, groups);
  g_autofree char *nc = g_strdup_printf ("%" G_GINT64_FORMAT, n_classes);
  mt_bundle_set_metadata (b, "num_classes", nc);
  mt_bundle_set_metadata (b, "groups", "group = class * 2 + patched");
  if (mt_bundle_get_metadata (in, "source"))
    mt_bundle_set_metadata (b, "source", mt_bundle_get_metadata (in, "source"));

  /* Log the group sizes: the numbers a reader checks first. */
  g_autoptr (GString) s = g_string_new (NULL);
  for (gint64 k = 0; k < n_classes; k++) {
    gint64 cnt[2] = { 0, 0 };
    for (gint64 i = 0; i < n; i++)
      if (cls[i] == k)
        cnt[pat[i]]++;
    g_string_append_printf (s, "%sclass %" G_GINT64_FORMAT ": %" G_GINT64_FORMAT " patched, %" G_GINT64_FORMAT " plain",
                            k ? "; " : "", k, cnt[1], cnt[0]);
  }
  mt_context_log (ctx, "%s", s->str);
  return mt_context_save_bundle (ctx, "dataset", b, error);
}

static void
biaser_set_property (GObject *obj, guint id, const GValue *value, GParamSpec *pspec)
{
  MtBiaser *self = MT_BIASER (obj);
  switch (id) {
  case PROP_CLASS_MAP:
    g_clear_pointer (&self->class_map, g_variant_unref);
    self->class_map = g_value_dup_variant (value);
    break;
  case PROP_COLOR:
    g_clear_pointer (&self->color, g_variant_unref);
    self->color = g_value_dup_variant (value);
    break;
  case PROP_CONFLICT_RATIO: self->conflict_ratio = g_value_get_double (value); break;
  case PROP_PATCH: self->patch = g_value_get_enum (value); break;
  case PROP_SIZE: self->size = g_value_get_int (value); break;
  case PROP_POSITION: self->position = g_value_get_enum (value); break;
  case PROP_MODE: self->mode = g_value_get_enum (value); break;
  case PROP_SELECTION: self->selection = g_value_get_enum (value); break;
  case PROP_SEED: self->seed = g_value_get_int64 (value); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
biaser_get_property (GObject *obj, guint id, GValue *value, GParamSpec *pspec)
{
  MtBiaser *self = MT_BIASER (obj);
  switch (id) {
  case PROP_CLASS_MAP: g_value_set_variant (value, self->class_map); break;
  case PROP_COLOR: g_value_set_variant (value, self->color); break;
  case PROP_CONFLICT_RATIO: g_value_set_double (value, self->conflict_ratio); break;
  case PROP_PATCH: g_value_set_enum (value, self->patch); break;
  case PROP_SIZE: g_value_set_int (value, self->size); break;
  case PROP_POSITION: g_value_set_enum (value, self->position); break;
  case PROP_MODE: g_value_set_enum (value, self->mode); break;
  case PROP_SELECTION: g_value_set_enum (value, self->selection); break;
  case PROP_SEED: g_value_set_int64 (value, self->seed); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
biaser_finalize (GObject *obj)
{
  MtBiaser *self = MT_BIASER (obj);
  g_clear_pointer (&self->class_map, g_variant_unref);
  g_clear_pointer (&self->color, g_variant_unref);
  G_OBJECT_CLASS (mt_biaser_parent_class)->finalize (obj);
}

static GParamSpec *biaser_class_map_spec, *biaser_color_spec;

static GVariant *
biaser_int_array (const gint64 *v, gsize n)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, v, n, sizeof (gint64));
}

static void
mt_biaser_class_init (MtBiaserClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = biaser_set_property;
  oc->get_property = biaser_get_property;
  oc->finalize = biaser_finalize;
  nc->run = biaser_run;
  nc->validate = biaser_validate;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  biaser_class_map_spec = g_param_spec_variant ("class-map", "Class map",
                                                "the class of each label 0-9 (default: 0-4 -> 0, 5-9 -> 1)",
                                                G_VARIANT_TYPE ("ax"), biaser_int_array (biaser_default_class_map, 10), rw);
  g_object_class_install_property (oc, PROP_CLASS_MAP, biaser_class_map_spec);
  g_object_class_install_property (oc, PROP_CONFLICT_RATIO,
    g_param_spec_double ("conflict-ratio", "Conflict ratio",
                         "r: the patch marks a fraction 1-r of class 0 and r of the other classes",
                         0.0, 1.0, DEFAULT_CONFLICT_RATIO, rw));
  g_object_class_install_property (oc, PROP_PATCH,
    g_param_spec_enum ("patch", "Patch", "the shortcut: a square, the background or strokes coloured, or texture "
                       "(every sample on a textured place: water in color for patched ones, land for the others)",
                       biaser_patch_kind_type (), DEFAULT_PATCH, rw));
  g_object_class_install_property (oc, PROP_SIZE,
    g_param_spec_int ("size", "Size", "side of the square patch in pixels", 1, 64, DEFAULT_SIZE, rw));
  g_object_class_install_property (oc, PROP_POSITION,
    g_param_spec_enum ("position", "Position", "where the square goes", biaser_position_type (), DEFAULT_POSITION, rw));
  biaser_color_spec = g_param_spec_variant ("color", "Color", "the patch colour [R, G, B], 0-255 each",
                                            G_VARIANT_TYPE ("ax"), biaser_int_array (biaser_default_color, 3), rw);
  g_object_class_install_property (oc, PROP_COLOR, biaser_color_spec);
  g_object_class_install_property (oc, PROP_MODE,
    g_param_spec_enum ("mode", "Mode", "biased: plant the patch; raw: no patch at all",
                       biaser_mode_type (), DEFAULT_MODE, rw));
  g_object_class_install_property (oc, PROP_SELECTION,
    g_param_spec_enum ("selection", "Selection", "which samples of a class get the patch: the first ones or a seeded random choice",
                       biaser_selection_type (), DEFAULT_SELECTION, rw));
  g_object_class_install_property (oc, PROP_SEED,
    g_param_spec_int64 ("seed", "Seed", "seed of the random selection", 0, G_MAXINT64, 0, rw));
  mt_node_class_set_metadata (nc, "1", "Plants a coloured shortcut patch (MaskTune's spurious MNIST)");
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "grey or RGB images with labels 0-9");
  mt_node_class_add_output (nc, "dataset", MT_KIND_DATASET,
                            "RGB images N x 3 x H x W, class labels, digits, patched flags and groups");
}

static void
mt_biaser_init (MtBiaser *self)
{
  /* The specs' own default values, shared (variants are immutable). */
  self->class_map = g_variant_ref (G_PARAM_SPEC_VARIANT (biaser_class_map_spec)->default_value);
  self->color = g_variant_ref (G_PARAM_SPEC_VARIANT (biaser_color_spec)->default_value);
  self->conflict_ratio = DEFAULT_CONFLICT_RATIO;
  self->patch = DEFAULT_PATCH;
  self->size = DEFAULT_SIZE;
  self->position = DEFAULT_POSITION;
  self->mode = DEFAULT_MODE;
  self->selection = DEFAULT_SELECTION;
}

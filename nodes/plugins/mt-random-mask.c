/* A mask node as a plugin: random_mask, the Cutout baseline MaskTune's code base offers
 * as a control. Each sample loses one square of random side (min_size..max_size) at a
 * random centre, clipped at the borders, drawn from `seed`. Build out of tree with
 *
 *   cc -shared -fPIC -o random-mask.so mt-random-mask.c $(pkg-config --cflags --libs masktune-1.0)
 *
 * and load it with MT_PLUGIN_PATH or mtrun --plugin-path. */
#include <string.h>

#include "masktune.h"

#define MT_TYPE_RANDOM_MASK (mt_random_mask_get_type ())
G_DECLARE_FINAL_TYPE (MtRandomMask, mt_random_mask, MT, RANDOM_MASK, MtNode)

struct _MtRandomMask {
  MtNode parent_instance;
  int min_size, max_size;
  gint64 seed;
};

G_DEFINE_FINAL_TYPE (MtRandomMask, mt_random_mask, MT_TYPE_NODE)

#define DEFAULT_MIN_SIZE 4
#define DEFAULT_MAX_SIZE 12
#define DEFAULT_SEED 0

enum { PROP_0, PROP_MIN_SIZE, PROP_MAX_SIZE, PROP_SEED };

static gboolean
run (MtNode *node, MtContext *ctx, GError **error)
{
  MtRandomMask *self = MT_RANDOM_MASK (node);
  if (self->min_size > self->max_size) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "min_size %d is above max_size %d", self->min_size, self->max_size);
    return FALSE;
  }
  g_autoptr (MtBundle) data = mt_context_load_bundle (ctx, "dataset", error);
  if (!data || !mt_dataset_check (data, "random_mask input", error))
    return FALSE;
  gint64 shape[4];
  mt_dataset_images_shape (data, shape);  /* held or streamed: the mask goes with either */
  gint64 n = shape[0], h = shape[2], w = shape[3];
  gint64 mshape[] = { n, h, w };
  g_autoptr (MtTensor) mask = mt_tensor_new (MT_DTYPE_U8, 3, mshape);
  MtRng rng;
  mt_rng_seed (&rng, (guint64) self->seed);
  for (gint64 i = 0; i < n; i++) {
    gint64 side = self->min_size + (gint64) mt_rng_below (&rng, (guint64) (self->max_size - self->min_size + 1));
    gint64 cy = (gint64) mt_rng_below (&rng, (guint64) h), cx = (gint64) mt_rng_below (&rng, (guint64) w);
    gint64 y0 = MAX (0, cy - side / 2), x0 = MAX (0, cx - side / 2);
    gint64 y1 = MIN (h, cy - side / 2 + side), x1 = MIN (w, cx - side / 2 + side);
    guint8 *keep = (guint8 *) mask->data + i * h * w;
    memset (keep, 1, h * w);
    for (gint64 y = y0; y < y1; y++)
      memset (keep + y * w + x0, 0, x1 - x0);
  }
  g_autoptr (MtBundle) out = mt_dataset_apply_mask (data, mask);
  return mt_context_save_bundle (ctx, "dataset", out, error) && mt_context_save_tensor (ctx, "mask", mask, error);
}

static void
set_property (GObject *obj, guint id, const GValue *v, GParamSpec *pspec)
{
  MtRandomMask *self = MT_RANDOM_MASK (obj);
  switch (id) {
  case PROP_MIN_SIZE: self->min_size = g_value_get_int (v); break;
  case PROP_MAX_SIZE: self->max_size = g_value_get_int (v); break;
  case PROP_SEED: self->seed = g_value_get_int64 (v); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
get_property (GObject *obj, guint id, GValue *v, GParamSpec *pspec)
{
  MtRandomMask *self = MT_RANDOM_MASK (obj);
  switch (id) {
  case PROP_MIN_SIZE: g_value_set_int (v, self->min_size); break;
  case PROP_MAX_SIZE: g_value_set_int (v, self->max_size); break;
  case PROP_SEED: g_value_set_int64 (v, self->seed); break;
  default: G_OBJECT_WARN_INVALID_PROPERTY_ID (obj, id, pspec);
  }
}

static void
mt_random_mask_class_init (MtRandomMaskClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  MtNodeClass *nc = MT_NODE_CLASS (klass);
  oc->set_property = set_property;
  oc->get_property = get_property;
  nc->run = run;
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (oc, PROP_MIN_SIZE,
    g_param_spec_int ("min-size", "Min size", "smallest square side in pixels", 1, 1024, DEFAULT_MIN_SIZE, rw));
  g_object_class_install_property (oc, PROP_MAX_SIZE,
    g_param_spec_int ("max-size", "Max size", "largest square side in pixels", 1, 1024, DEFAULT_MAX_SIZE, rw));
  g_object_class_install_property (oc, PROP_SEED,
    g_param_spec_int64 ("seed", "Seed", "seed of the sizes and places", 0, G_MAXINT64, DEFAULT_SEED, rw));
  mt_node_class_set_metadata (nc, "1", "Cutout baseline: masks one random square per sample");
  mt_node_class_add_input (nc, "dataset", MT_KIND_DATASET, TRUE, "the samples to mask");
  mt_node_class_add_output (nc, "dataset", MT_KIND_DATASET, "the masked samples (0 in every channel)");
  mt_node_class_add_output (nc, "mask", MT_KIND_MASK, "uint8 N x H x W, 1 = kept");
}

static void
mt_random_mask_init (MtRandomMask *self)
{
  self->min_size = DEFAULT_MIN_SIZE;
  self->max_size = DEFAULT_MAX_SIZE;
  self->seed = DEFAULT_SEED;
}

static gboolean
register_nodes (MtRegistry *reg, GError **error)
{
  return mt_registry_register (reg, "random_mask", MT_TYPE_RANDOM_MASK, error);
}

MT_PLUGIN_DEFINE ("random-mask", "Cutout baseline: random square masks", "1.0", register_nodes)

/* The kinds of value that flow along the edges of a pipeline, and how each is stored. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  MT_KIND_TENSOR,    /* one tensor: .npy */
  MT_KIND_DATASET,   /* images, labels, groups: .safetensors */
  MT_KIND_MODEL,     /* weights and optimizer state: .safetensors */
  MT_KIND_SALIENCY,  /* per-sample heat maps: .npy */
  MT_KIND_MASK,      /* per-sample masks: .npy */
  MT_KIND_REPORT,    /* metrics: .json */
  MT_KIND_IMAGE,     /* a picture: .png */
  MT_KIND_STATE,     /* optimizer state and other training buffers: .safetensors */
  MT_KIND_TEXT,      /* a document for people, in Markdown: .md */
} MtKind;

#define MT_TYPE_KIND (mt_kind_get_type ())
GType       mt_kind_get_type (void);

const char *mt_kind_name      (MtKind kind);   /* "dataset" */
const char *mt_kind_extension (MtKind kind);   /* "safetensors" */
/* What a value of the kind holds, and its conventions (a mask's 1 = kept), for people. */
const char *mt_kind_description (MtKind kind);
gboolean    mt_kind_from_name (const char *name, MtKind *out);

G_END_DECLS

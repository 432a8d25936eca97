/* Where a saliency map or a mask lives: at the model's input size, or at the size of the
 * layer it was taken at. One enumeration for xgradcam's and masker's `resolution`. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  MT_RESOLUTION_INPUT,  /* "input" */
  MT_RESOLUTION_CAM,    /* "cam" */
} MtResolution;

#define MT_TYPE_RESOLUTION (mt_resolution_get_type ())
GType mt_resolution_get_type (void);

G_END_DECLS

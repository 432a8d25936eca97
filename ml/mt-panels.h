/* MaskTune's figure of a few samples: one row per sample, one titled column per stage
 * (image, heat map, mask, masked image, heat map after fine-tuning), a frame around each
 * tile, and a colour bar for the heat maps. */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

typedef enum {
  MT_PANEL_IMAGE,  /* uint8 [N, C, H, W], C = 1 or 3 */
  MT_PANEL_HEAT,   /* float32 [N, H, W] in [0, 1], jet colours */
  MT_PANEL_MASK,   /* uint8 [N, H, W], 1 = kept (white), 0 = masked (black) */
} MtPanelKind;

typedef struct {
  MtPanelKind     kind;
  const MtTensor *t;
  const char     *title;
} MtPanel;

/* The jet colour map, as Grad-CAM figures use: blue (0) to red (1). */
void      mt_panels_jet    (float v, guint8 rgb[3]);

/* Rows @rows[0..n_rows) of every panel (which must share N >= the largest row, H and W),
 * magnified @scale times; @row_labels (or NULL) name each row at its left. */
MtTensor *mt_panels_render (const MtPanel *panels, guint n_panels, const gint64 *rows, guint n_rows,
                            int scale, const char *const *row_labels, GError **error);

G_END_DECLS

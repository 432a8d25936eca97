/* Charts for reports, drawn with cairo into PNG-ready uint8 [H, W, 3] tensors: grouped
 * bars (accuracy of each model on each test set) and lines (coverage against accuracy). */
#pragma once

#include "base/mt-tensor.h"

G_BEGIN_DECLS

/* @values [n_groups x n_series], in [0, 1] (NaN: no bar); one cluster of bars per group,
 * one colour per series, the value printed over each bar. */
MtTensor *mt_plot_bars  (const char *title, const char *ylabel,
                         guint n_groups, const char *const *group_names,
                         guint n_series, const char *const *series_names,
                         const double *values);

/* Colours that can be told apart; series beyond share them. */
#define MT_PLOT_COLOURS 7

typedef struct {
  const char   *name;
  guint         n;
  const double *x;
  const double *y;   /* NaN points are skipped */
  guint         colour;  /* index into the palette */
  guint         style;   /* 0 solid, 1 dashed, 2 dotted */
} MtPlotSeries;

/* A legend that names colours and line styles apart (e.g. colour = model, style = test
 * set), instead of one entry per series. colours[i] names palette colour i; NULL: none. */
typedef struct {
  guint              n_colours;
  const char *const *colours;
  guint              n_styles;
  const char *const *styles;
} MtPlotKey;

typedef enum {
  MT_PLOT_X_DESCENDING = 1 << 0,  /* x from high to low (coverage 100% first) */
  MT_PLOT_X_PLAIN      = 1 << 1,  /* x labelled as numbers (epochs), not as percentages */
} MtPlotFlags;

/* Lines through each series' points with markers; y in [0, 1] shown as percentages, axes
 * fitted to the data. @key NULL: a legend entry per series. */
MtTensor *mt_plot_lines (const char *title, const char *xlabel, const char *ylabel,
                         guint n_series, const MtPlotSeries *series, MtPlotFlags flags,
                         const MtPlotKey *key);

/* Frees the font caches cairo and fontconfig keep for the process's lifetime, so that
 * leak checkers see a clean exit. Call once at exit, when no chart is being drawn. */
void      mt_plot_release_fonts (void);

G_END_DECLS

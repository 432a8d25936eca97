/* mtrun report FILE.pipe -o DIR: one static page (DIR/index.html, no server, no network)
 * of the pipeline's latest run: the DAG, each node with its state, time, properties and
 * outputs (pictures of images, datasets, saliency maps, masks and training curves;
 * tensors as shape, dtype and statistics; the evaluator's tables), and the comparison
 * table of `mtrun compare`. */
#include "tools/mtrun-report.h"
#include "base/mt-number.h"
#include "formats/mt-npy.h"
#include "ml/mt-dataset.h"
#include "ml/mt-panels.h"
#include "runtime/mt-plan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static char *out_dir;

static const GOptionEntry report_entries[] = {
  { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Write the page into DIR (made if needed)", "DIR" },
  G_OPTION_ENTRY_NULL
};

#define MAX_SHOWN 8           /* samples drawn per dataset, map or mask */
#define MAX_TEXT 16384        /* bytes of a text or JSON output shown */

typedef struct {
  char *dir;
  GString *html;
  guint files;              /* pictures written, for unique names */
} Page;

static void
esc (GString *s, const char *text)
{
  g_autofree char *e = g_markup_escape_text (text ? text : "", -1);
  g_string_append (s, e);
}

/* Saves @rgb (uint8 [H, W, 3]) as files/N.png and adds an <img> of it. */
static void
add_picture (Page *p, MtTensor *rgb, const char *alt)
{
  g_autofree char *name = g_strdup_printf ("files/%u.png", p->files++);
  g_autofree char *path = g_build_filename (p->dir, name, NULL);
  g_autoptr (GError) err = NULL;
  if (!mt_png_save (rgb, path, &err)) {
    g_string_append (p->html, "<p class=\"bad\">");
    esc (p->html, err->message);
    g_string_append (p->html, "</p>\n");
    return;
  }
  g_string_append_printf (p->html, "<img src=\"%s\" alt=\"", name);
  esc (p->html, alt);
  g_string_append (p->html, "\">\n");
}

/* The first samples of a map (float [N, H, W], jet colours) or mask (uint8, white kept),
 * side by side, magnified. */
static MtTensor *
strip_of_maps (MtTensor *t)
{
  gint64 n = MIN (t->shape[0], MAX_SHOWN), h = t->shape[1], w = t->shape[2];
  int scale = (int) CLAMP (96 / MAX (h, 1), 1, 8);
  gint64 shape[] = { h * scale, n * (w * scale + 4), 3 };
  MtTensor *img = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  memset (img->data, 255, img->nbytes);
  guint8 *px = img->data;
  for (gint64 i = 0; i < n; i++)
    for (gint64 y = 0; y < h * scale; y++)
      for (gint64 x = 0; x < w * scale; x++) {
        gsize at = (gsize) (i * h * w + (y / scale) * w + x / scale);
        guint8 rgb[3];
        if (t->dtype == MT_DTYPE_F32) {
          mt_panels_jet (CLAMP (((const float *) t->data)[at], 0.0f, 1.0f), rgb);
        } else {
          guint8 v = ((const guint8 *) t->data)[at] ? 255 : 0;
          rgb[0] = rgb[1] = rgb[2] = v;
        }
        memcpy (px + ((gsize) y * shape[1] + (gsize) (i * (w * scale + 4) + x)) * 3, rgb, 3);
      }
  return img;
}

static void
tensor_summary (Page *p, MtTensor *t)
{
  g_autofree char *shape = mt_tensor_shape_string (t);
  g_string_append_printf (p->html, "<p class=\"meta\">%s %s", mt_dtype_name (t->dtype), shape);
  gint64 n = mt_tensor_numel (t);
  if (n > 0 && (t->dtype == MT_DTYPE_F32 || t->dtype == MT_DTYPE_F64 || t->dtype == MT_DTYPE_U8 ||
                t->dtype == MT_DTYPE_I64 || t->dtype == MT_DTYPE_I32)) {
    double lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0;
    for (gint64 i = 0; i < n; i++) {
      double v = t->dtype == MT_DTYPE_F32 ? ((float *) t->data)[i] : t->dtype == MT_DTYPE_F64 ? ((double *) t->data)[i]
               : t->dtype == MT_DTYPE_U8 ? ((guint8 *) t->data)[i] : t->dtype == MT_DTYPE_I64 ? (double) ((gint64 *) t->data)[i]
               : ((gint32 *) t->data)[i];
      lo = MIN (lo, v);
      hi = MAX (hi, v);
      sum += v;
      sq += v * v;
    }
    double mean = sum / n;
    g_string_append_printf (p->html, ": min %.4g, max %.4g, mean %.4g, std %.4g", lo, hi, mean,
                            sqrt (MAX (sq / n - mean * mean, 0)));
  }
  g_string_append (p->html, "</p>\n");
}

static void
show_dataset (Page *p, MtBundle *b)
{
  g_autoptr (GError) err = NULL;
  if (!mt_dataset_check (b, "dataset", &err)) {
    g_string_append (p->html, "<p class=\"bad\">");
    esc (p->html, err->message);
    g_string_append (p->html, "</p>\n");
    return;
  }
  gint64 shape[4];
  mt_dataset_images_shape (b, shape);
  g_string_append_printf (p->html, "<p class=\"meta\">%" G_GINT64_FORMAT " images of %" G_GINT64_FORMAT " x %"
                          G_GINT64_FORMAT " x %" G_GINT64_FORMAT "%s</p>\n", shape[0], shape[1], shape[2], shape[3],
                          mt_dataset_is_streamed (b) ? ", streamed from their files" : "");
  guint n = 0;
  g_autofree gint64 *rows = mt_dataset_pick (b, MT_DATASET_PICK_PER_GROUP, 2 * MAX_SHOWN, 0, &n);
  int scale = (int) CLAMP (64 / MAX (shape[2], 1), 1, 4);
  g_autoptr (MtTensor) grid = n ? mt_dataset_render_grid (b, rows, n, MAX_SHOWN, (guint) scale, &err) : NULL;
  if (grid)
    add_picture (p, grid, "samples, group by group");
}

static void
show_evaluator (Page *p, JsonObject *rep)
{
  JsonArray *results = json_object_get_array_member (rep, "results");
  g_string_append (p->html, "<table><tr><th>model</th><th>test set</th><th class=\"num\">accuracy %</th>"
                            "<th class=\"num\">worst group %</th><th class=\"num\">n</th></tr>\n");
  for (guint i = 0; i < json_array_get_length (results); i++) {
    JsonObject *r = json_array_get_object_element (results, i);
    if (!r)
      continue;
    g_string_append (p->html, "<tr><td>");
    esc (p->html, json_object_get_string_member_with_default (r, "model", ""));
    g_string_append (p->html, "</td><td>");
    esc (p->html, json_object_get_string_member_with_default (r, "dataset", ""));
    JsonNode *w = json_object_get_member (r, "worst_group_accuracy");
    g_string_append_printf (p->html, "</td><td class=\"num\">%.1f</td>",
                            100 * json_object_get_double_member_with_default (r, "accuracy", NAN));
    if (w && JSON_NODE_HOLDS_VALUE (w))
      g_string_append_printf (p->html, "<td class=\"num\">%.1f</td>", 100 * json_node_get_double (w));
    else
      g_string_append (p->html, "<td class=\"num\">-</td>");
    g_string_append_printf (p->html, "<td class=\"num\">%" G_GINT64_FORMAT "</td></tr>\n",
                            json_object_get_int_member_with_default (r, "n", 0));
  }
  g_string_append (p->html, "</table>\n");
}

/* A trainer's log: accuracy per epoch, drawn (the losses are in the log's text). */
static void
show_training_log (Page *p, JsonArray *epochs)
{
  guint n = json_array_get_length (epochs);
  if (n < 2)
    return;  /* one epoch is no curve: the log's text says it */
  g_autofree double *x = g_new (double, MAX (n, 1));
  g_autofree double *acc = g_new (double, MAX (n, 1)), *val = g_new (double, MAX (n, 1));
  for (guint i = 0; i < n; i++) {
    JsonObject *e = json_array_get_object_element (epochs, i);
    x[i] = i + 1;
    acc[i] = e ? json_object_get_double_member_with_default (e, "accuracy", NAN) : NAN;
    val[i] = e ? json_object_get_double_member_with_default (e, "val_accuracy", NAN) : NAN;
  }
  MtPlotSeries s[] = { { "training accuracy", n, x, acc, 1, 0 }, { "validation accuracy", n, x, val, 2, 1 } };
  g_autoptr (MtTensor) chart = mt_plot_lines ("Training", "epoch", "accuracy", G_N_ELEMENTS (s), s,
                                              MT_PLOT_X_PLAIN, NULL);
  if (chart)
    add_picture (p, chart, "accuracy per epoch");
}

static void
show_text (Page *p, const char *text, gsize len)
{
  g_string_append (p->html, "<pre>");
  g_autofree char *cut = g_strndup (text, MIN (len, MAX_TEXT));
  if (!g_utf8_validate (cut, -1, NULL))
    g_string_append (p->html, "(not UTF-8 text)");
  else
    esc (p->html, cut);
  if (len > MAX_TEXT)
    g_string_append_printf (p->html, "\n… (%" G_GSIZE_FORMAT " bytes in all)", len);
  g_string_append (p->html, "</pre>\n");
}

static void
show_output (Page *p, MtCache *cache, const MtCacheOutput *o)
{
  g_autofree char *path = mt_cache_output_path (cache, o);
  g_autofree char *size = mt_number_format_size (o->size);
  g_string_append (p->html, "<div class=\"output\"><h4>");
  esc (p->html, o->port);
  g_string_append_printf (p->html, " <span class=\"kind\">%s, %s, sha256 %.12s</span></h4>\n", o->kind, size, o->digest);
  g_autoptr (GError) err = NULL;
  const char *k = o->kind;
  if (g_str_equal (k, "image")) {
    g_autofree char *name = g_strdup_printf ("files/%u.png", p->files++);
    g_autofree char *dst = g_build_filename (p->dir, name, NULL);
    if (mt_file_copy (path, dst, &err)) {
      g_string_append_printf (p->html, "<img src=\"%s\" alt=\"", name);
      esc (p->html, o->port);
      g_string_append (p->html, "\">\n");
    }
  } else if (g_str_equal (k, "tensor") || g_str_equal (k, "saliency") || g_str_equal (k, "mask")) {
    g_autoptr (MtTensor) t = mt_npy_load (path, &err);
    if (t) {
      tensor_summary (p, t);
      gboolean maps = t->ndim == 3 && t->shape[0] > 0 && ((g_str_equal (k, "saliency") && t->dtype == MT_DTYPE_F32) ||
                                                          (g_str_equal (k, "mask") && t->dtype == MT_DTYPE_U8));
      if (maps) {
        g_autoptr (MtTensor) strip = strip_of_maps (t);
        add_picture (p, strip, g_str_equal (k, "mask") ? "masks (white: kept)" : "heat maps (jet: blue 0, red 1)");
      }
    }
  } else if (g_str_equal (k, "dataset") || g_str_equal (k, "model") || g_str_equal (k, "state")) {
    g_autoptr (MtBundle) b = mt_safetensors_load (path, &err);
    if (b && g_str_equal (k, "dataset")) {
      show_dataset (p, b);
    } else if (b) {
      g_autofree const char **names = mt_bundle_names (b);
      gint64 values = 0;
      guint count = 0;
      for (; names[count]; count++)
        values += mt_tensor_numel (mt_bundle_get (b, names[count]));
      g_string_append_printf (p->html, "<p class=\"meta\">%u tensors, %" G_GINT64_FORMAT " values", count, values);
      const char *meta[] = { "arch", "num_classes", "optimizer", "step", "epochs_done", "best_epoch", "final_lr", NULL };
      for (guint i = 0; meta[i]; i++)
        if (mt_bundle_get_metadata (b, meta[i])) {
          g_string_append_printf (p->html, "; %s ", meta[i]);
          esc (p->html, mt_bundle_get_metadata (b, meta[i]));
        }
      g_string_append (p->html, "</p>\n");
    }
  } else {
    g_autofree char *text = NULL;
    gsize len = 0;
    if (mt_file_read_regular (path, FALSE, 64 << 20, &text, &len, &err)) {
      g_autoptr (JsonNode) root = g_str_equal (k, "report") ? mt_json_parse (text, len, G_MAXSIZE, path, NULL) : NULL;
      JsonObject *o2 = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
      if (o2 && json_object_has_member (o2, "results") && JSON_NODE_HOLDS_ARRAY (json_object_get_member (o2, "results")))
        show_evaluator (p, o2);
      else if (o2 && json_object_has_member (o2, "epochs") && JSON_NODE_HOLDS_ARRAY (json_object_get_member (o2, "epochs")))
        show_training_log (p, json_object_get_array_member (o2, "epochs"));
      if (!o2 || !json_object_has_member (o2, "results"))
        show_text (p, text, len);
    }
  }
  if (err) {
    g_string_append (p->html, "<p class=\"bad\">");
    esc (p->html, err->message);
    g_string_append (p->html, "</p>\n");
  }
  g_string_append (p->html, "</div>\n");
}

static const char *style =
  "body{font-family:sans-serif;margin:2em;max-width:90em;color:#222}"
  "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccc}"
  "h4{margin:.8em 0 .3em}.kind,.type{color:#666;font-weight:normal;font-size:.85em}"
  ".state{font-size:.8em;padding:.1em .5em;border-radius:.3em;margin-left:.5em}"
  ".cached{background:#c8e6c9}.run{background:#ffe0b2}.error{background:#ffcdd2}.never{background:#e0e0e0}"
  "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.2em .6em;"
  "text-align:left}.num{text-align:right}pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:24em}"
  ".meta{color:#444}.bad{color:#b00}img{max-width:100%;border:1px solid #eee}"
  "#dag{border:1px solid #eee;text-align:center}#dag img{border:none;max-width:100%;height:auto}";

/* Marks an image that did not load, and counts them (the tests read data-images). */
static const char *script =
  "window.addEventListener('load',function(){var im=document.images,ok=0;"
  "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;"
  "else im[i].insertAdjacentHTML('afterend','<p class=\"bad\">missing: '+im[i].getAttribute('src')+'</p>');}"
  "document.body.setAttribute('data-images',ok+'/'+im.length);});";

int
mtrun_cmd_report (int argc, char **argv)
{
  int status = 0;
  g_autoptr (MtDag) g = mtrun_load_pipeline (&argc, &argv, "report",
    "Writes a static HTML page of the pipeline's latest run: the DAG, every node's state, time,\n"
    "properties and outputs, and the comparison of its evaluator reports (open DIR/index.html).",
    report_entries, &status);
  if (!g)
    return status;
  if (!out_dir)
    return mtrun_fail (MTRUN_EXIT_USAGE, "mtrun report needs -o DIR, where the page goes");
  g_autoptr (GError) err = NULL;
  g_autoptr (MtCache) cache = mtrun_open_cache (g->path, &err);
  if (!cache)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  g_autofree char *files = g_build_filename (out_dir, "files", NULL);
  if (g_mkdir_with_parents (files, 0755) != 0)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "cannot create %s: %s", files, g_strerror (errno));

  g_autoptr (MtPlan) plan = mt_plan_compute (g, cache, NULL);
  g_autoptr (GHashTable) refs = mt_cache_get_refs (cache, g->variant);
  guint n = g->nodes->len;
  g_autofree const char **states = g_new0 (const char *, MAX (n, 1));
  g_autoptr (GPtrArray) manifests = g_ptr_array_new_with_free_func ((GDestroyNotify) mt_manifest_free);
  for (guint i = 0; i < n; i++) {
    MtPlanItem *it = plan->items->pdata[i];
    /* The node's latest run: its cached entry, else the last run of this variant. */
    const char *key = it->state == MT_PLAN_CACHED ? it->key : g_hash_table_lookup (refs, it->node->name);
    MtManifest *m = key ? mt_cache_lookup (cache, key, NULL) : NULL;
    if (m && !mt_cache_verify (cache, m, MT_CACHE_VERIFY_DIGESTS, NULL))
      g_clear_pointer (&m, mt_manifest_free);
    g_ptr_array_add (manifests, m);
    states[it->node->index] = it->state == MT_PLAN_CACHED ? "cached" : it->state == MT_PLAN_ERROR ? "error"
                            : m ? "run" : "never";
  }
  g_autofree char *svg = g_build_filename (out_dir, "dag.svg", NULL);
  if (!mtrun_report_draw_dag (g, states, svg, &err))
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);

  Page p = { out_dir, g_string_new (""), 0 };
  g_autofree char *base = g_path_get_basename (g->path);
  g_string_append (p.html, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
  esc (p.html, base);
  g_string_append_printf (p.html, " — masktune</title>\n<style>%s</style>\n<script>%s</script></head>\n<body>\n<h1>",
                          style, script);
  esc (p.html, base);
  g_string_append (p.html, "</h1>\n<p class=\"meta\">");
  esc (p.html, g->variant);
  g_string_append_printf (p.html, " — %u nodes; made by masktune %s</p>\n", n, MT_VERSION_STRING);
  g_string_append (p.html, "<p><span class=\"state cached\">cached</span> up to date <span class=\"state run\">"
                           "will run</span> changed since its last run <span class=\"state never\">never run</span>"
                           " <span class=\"state error\">cannot run</span></p>\n"
                           "<div id=\"dag\"><img src=\"dag.svg\" alt=\"the pipeline\"></div>\n");
  g_autofree char *table = mtrun_compare_html (cache, g->path);
  if (table) {
    g_string_append (p.html, "<h2 id=\"compare\">Comparison</h2>\n");
    g_string_append (p.html, table);
  }
  for (guint i = 0; i < n; i++) {
    MtPlanItem *it = plan->items->pdata[i];
    MtManifest *m = manifests->pdata[i];
    const char *st = states[it->node->index];
    g_string_append_printf (p.html, "<h2 id=\"node-%u\">", i);
    esc (p.html, it->node->name);
    g_string_append (p.html, " <span class=\"type\">");
    esc (p.html, it->node->type_name);
    g_string_append_printf (p.html, "</span><span class=\"state %s\">%s</span></h2>\n", st,
                            g_str_equal (st, "run") ? "will run" : g_str_equal (st, "never") ? "never run"
                            : g_str_equal (st, "error") ? "cannot run" : "cached");
    if (it->reasons->len && !g_str_equal (st, "cached")) {
      g_string_append (p.html, "<p class=\"meta\">");
      for (guint k = 0; k < it->reasons->len; k++) {
        esc (p.html, k ? "; " : "");
        esc (p.html, it->reasons->pdata[k]);
      }
      g_string_append (p.html, "</p>\n");
    }
    /* Properties as the run had them (or as the file sets them, never run). */
    JsonObject *root = m && JSON_NODE_HOLDS_OBJECT (m->root) ? json_node_get_object (m->root) : NULL;
    if (m) {
      g_string_append_printf (p.html, "<p class=\"meta\">run %s, %.2f s, on ", m->started, m->duration);
      esc (p.html, root ? json_object_get_string_member_with_default (root, "backend", "?") : "?");
      g_string_append_printf (p.html, "; key %.16s</p>\n", m->key);
    }
    JsonObject *props = root && json_object_has_member (root, "properties") ? json_object_get_object_member (root, "properties") : NULL;
    g_autoptr (GList) keys = props ? json_object_get_members (props) : NULL;
    if (keys) {
      g_string_append (p.html, "<table class=\"props\"><tr><th>property</th><th>value</th></tr>\n");
      for (GList *k = keys; k; k = k->next) {
        g_autofree char *v = mt_json_to_string (json_object_get_member (props, k->data), FALSE);
        g_string_append (p.html, "<tr><td>");
        esc (p.html, k->data);
        g_string_append (p.html, "</td><td>");
        esc (p.html, v);
        g_string_append (p.html, "</td></tr>\n");
      }
      g_string_append (p.html, "</table>\n");
    }
    for (guint o = 0; m && o < m->outputs->len; o++)
      show_output (&p, cache, m->outputs->pdata[o]);
  }
  g_string_append (p.html, "</body></html>\n");
  g_autofree char *index = g_build_filename (out_dir, "index.html", NULL);
  gboolean ok = mt_file_write_atomic (index, p.html->str, p.html->len, &err);
  g_string_free (p.html, TRUE);
  if (!ok)
    return mtrun_fail (MTRUN_EXIT_FAILURE, "%s", err->message);
  if (!mtrun_global.quiet)
    printf ("%s\n", index);
  return 0;
}

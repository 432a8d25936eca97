/* Saliency and masking: CAM formulas on hand-made activations and gradients, the
 * target-layer gradient against finite differences of the logit, bilinear upsampling
 * against known values, every masking rule on hand-made maps (ties and the
 * no-positive case included), and the masker node's outputs. */
#include "tests/mt-test-util.h"
#include "runtime/mt-context-private.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

START_TEST (cam_formulas)
{
  /* Two channels of three pixels. */
  const float a[6] = { 1, 2, 3,   0, 4, 0 };
  const float g[6] = { 0.5f, -1, 2,   1, 1, -3 };
  float cam[3];
  /* XGradCAM: w0 = (0.5 - 2 + 6) / 6 = 0.75, w1 = (4) / 4 = 1 -> ReLU(0.75 a0 + a1) */
  mt_cam_compute (MT_CAM_XGRADCAM, a, g, 2, 3, cam);
  ck_assert_double_eq_tol (cam[0], 0.75, 1e-6);
  ck_assert_double_eq_tol (cam[1], 1.5 + 4, 1e-6);
  ck_assert_double_eq_tol (cam[2], 2.25, 1e-6);
  /* Grad-CAM: w0 = 1.5 / 3 = 0.5, w1 = -1 / 3 -> ReLU(0.5 a0 - a1 / 3) */
  mt_cam_compute (MT_CAM_GRADCAM, a, g, 2, 3, cam);
  ck_assert_double_eq_tol (cam[0], 0.5, 1e-6);
  ck_assert_double_eq_tol (cam[1], 0.0, 1e-6);  /* 1 - 4/3 < 0: clipped */
  ck_assert_double_eq_tol (cam[2], 1.5, 1e-6);
  /* LayerCAM: ReLU(G) * A summed over channels. */
  mt_cam_compute (MT_CAM_LAYERCAM, a, g, 2, 3, cam);
  ck_assert_double_eq_tol (cam[0], 0.5, 1e-6);
  ck_assert_double_eq_tol (cam[1], 4, 1e-6);
  ck_assert_double_eq_tol (cam[2], 6, 1e-6);
  /* Grad-CAM++: alpha = g^2 / (2 g^2 + sum(A) g^3); w = sum ReLU(g) alpha.
   * channel 0 (sum A = 6): g=.5: .25/(.5+.75)=.2 -> .1; g=2: 4/(8+48)=1/14 -> 1/7
   * channel 1 (sum A = 4): g=1: 1/(2+4) = 1/6, twice -> 1/3 */
  mt_cam_compute (MT_CAM_GRADCAM_PP, a, g, 2, 3, cam);
  double w0 = 0.1 + 1.0 / 7, w1 = 1.0 / 3;
  ck_assert_double_eq_tol (cam[0], w0 * 1, 1e-6);
  ck_assert_double_eq_tol (cam[1], w0 * 2 + w1 * 4, 1e-6);
  ck_assert_double_eq_tol (cam[2], w0 * 3, 1e-6);
  /* Scaling to [0, 1]. */
  float s[4] = { 2, 4, 3, 2 };
  mt_cam_scale (s, 4);
  ck_assert_double_eq_tol (s[0], 0, 1e-6);
  ck_assert_double_eq_tol (s[1], 1, 1e-6);
  ck_assert_double_eq_tol (s[2], 0.5, 1e-6);
}
END_TEST

START_TEST (bilinear_half_pixel)
{
  /* Values cv2.resize(INTER_LINEAR) and F.interpolate(align_corners=False) give. */
  const float in[4] = { 0, 1, 2, 3 };
  float out[16];
  mt_resize_bilinear (in, 2, 2, out, 4, 4);
  const float expect[16] = { 0, 0.25f, 0.75f, 1,   0.5f, 0.75f, 1.25f, 1.5f,
                             1.5f, 1.75f, 2.25f, 2.5f,   2, 2.25f, 2.75f, 3 };
  for (int i = 0; i < 16; i++)
    ck_assert_double_eq_tol (out[i], expect[i], 1e-6);
  /* 8 -> 28, as for SmallCNN: a constant stays constant, a ramp stays monotone. */
  float flat[64], big[784];
  for (int i = 0; i < 64; i++)
    flat[i] = 0.3f;
  mt_resize_bilinear (flat, 8, 8, big, 28, 28);
  for (int i = 0; i < 784; i++)
    ck_assert_double_eq_tol (big[i], 0.3, 1e-6);
}
END_TEST

START_TEST (target_layer_gradient)
{
  /* d logit / d activation at the target layer, by back-propagation, against central
   * differences through the layers above it (eval mode). */
  g_autoptr (MtModel) m = mt_model_new (mt_arch_lookup ("small_cnn"), 2);
  mt_model_init (m, 11);
  const int n = 3;
  MtRng rng;
  mt_rng_seed (&rng, 12);
  g_autofree float *x = g_new (float, n * 3 * 784);
  for (int i = 0; i < n * 3 * 784; i++)
    x[i] = (float) mt_rng_uniform (&rng);
  const char *layer = mt_arch_lookup ("small_cnn")->target_layer;
  mt_model_forward (m, x, n, FALSE);
  float dl[6] = { 0, 1, 1, 0, 0, 1 };  /* logit 1 of sample 0, logit 0 of 1, logit 1 of 2 */
  int c, h, w;
  const float *act = mt_model_activation (m, layer, &c, &h, &w);
  ck_assert_int_eq (c * h * w, 32 * 8 * 8);
  gsize len = (gsize) n * c * h * w;
  g_autofree float *a = g_memdup2 (act, len * sizeof (float));
  g_autofree float *g = g_memdup2 (mt_model_backward_to (m, dl, layer), len * sizeof (float));
  int checked = 0, strong = 0;
  for (gsize idx = 0; idx < len && checked < 40; idx += 7) {
    if (a[idx] <= 0.002f)
      continue;  /* ReLU output at its kink: not differentiable there */
    /* Nor where the 2x2 max-pool above would change its winner within the step. */
    gsize plane = idx / (h * w), pix = idx % (h * w);
    int py = (int) pix / w / 2 * 2, px = (int) pix % w / 2 * 2;
    gboolean close = FALSE;
    for (int dy = 0; dy < 2; dy++)
      for (int dx = 0; dx < 2; dx++) {
        gsize other = plane * h * w + (gsize) (py + dy) * w + px + dx;
        if (other != idx && fabs (a[other] - a[idx]) < 0.0021)
          close = TRUE;
      }
    if (close)
      continue;
    int sample = (int) (idx / (c * h * w));
    int cls = sample == 1 ? 0 : 1;
    g_autofree float *probe = g_memdup2 (a, len * sizeof (float));
    double step = 1e-3;
    probe[idx] = a[idx] + (float) step;
    double up = mt_model_forward_from (m, layer, probe, n)[sample * 2 + cls];
    probe[idx] = a[idx] - (float) step;
    double down = mt_model_forward_from (m, layer, probe, n)[sample * 2 + cls];
    double numeric = (up - down) / (2 * step);
    ck_assert_msg (fabs (numeric - g[idx]) <= 1e-3 + 1e-2 * fabs (g[idx]), "[%" G_GSIZE_FORMAT "]: %g vs %g",
                   idx, g[idx], numeric);
    checked++;
    strong += fabs (g[idx]) > 1e-2;
  }
  ck_assert_int_ge (checked, 20);
  ck_assert_int_ge (strong, 5);  /* clear gradients among them, not only zeros */
}
END_TEST

static double *
bundle_doubles (MtBundle *b, const char *name)
{
  MtTensor *t = mt_bundle_get (b, name);
  ck_assert_msg (t != NULL, "no %s", name);
  double *d = g_new (double, mt_tensor_numel (t));
  for (gint64 i = 0; i < mt_tensor_numel (t); i++)
    d[i] = ((float *) t->data)[i];
  return d;
}

/* d logit[cls] / d (the 32 x 8 x 8 activation of one sample) for SmallCNN in eval mode. */
static void
reference_gradient (MtBundle *w, const float *act, int cls, double *grad)
{
  double a[32 * 64], pooled[512], h1[256], h2[256], h3[256], logits[2];
  for (int i = 0; i < 32 * 64; i++)
    a[i] = act[i];
  g_autofree double *w0 = bundle_doubles (w, "linear.0.weight"), *b0 = bundle_doubles (w, "linear.0.bias");
  g_autofree double *g1 = bundle_doubles (w, "linear.1.weight"), *be1 = bundle_doubles (w, "linear.1.bias");
  g_autofree double *rm = bundle_doubles (w, "linear.1.running_mean"), *rv = bundle_doubles (w, "linear.1.running_var");
  g_autofree double *w3 = bundle_doubles (w, "linear.3.weight"), *b3 = bundle_doubles (w, "linear.3.bias");
  mt_ref_maxpool2_forward (a, 1, 32, 8, 8, pooled);
  mt_ref_linear_forward (pooled, 1, 512, 256, w0, b0, h1);
  double scale[256];
  for (int k = 0; k < 256; k++) {
    scale[k] = g1[k] / sqrt (rv[k] + 1e-5);
    h2[k] = (h1[k] - rm[k]) * scale[k] + be1[k];
  }
  mt_ref_relu_forward (h2, 256, h3);
  mt_ref_linear_forward (h3, 1, 256, 2, w3, b3, logits);
  double dl[2] = { cls == 0, cls == 1 }, dh3[256], dh2[256], dh1[256], dpooled[512], dw3[512], db3[2];
  g_autofree double *dw0 = g_new (double, 512 * 256);
  double db0[256];
  mt_ref_linear_backward (h3, 1, 256, 2, w3, dl, dh3, dw3, db3);
  mt_ref_relu_backward (h2, dh3, 256, dh2);
  for (int k = 0; k < 256; k++)
    dh1[k] = dh2[k] * scale[k];
  mt_ref_linear_backward (pooled, 1, 512, 256, w0, dh1, dpooled, dw0, db0);
  mt_ref_maxpool2_backward (a, 1, 32, 8, 8, dpooled, grad);
}

START_TEST (xgradcam_node_against_definition)
{
  /* The node's heat maps for a briefly trained model, against the definition computed
   * here from A and G, G from the double-precision reference ops. */
  g_autofree char *dir = mt_test_tmpdir ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) g = mt_graph_load_string ("x.pipe",
    "d = mnist(limit=96)\nb = biaser(d)\nm = trainer(b, epochs=1, batch_size=32, val_fraction=0, seed=5)\n"
    "c = xgradcam(m, b)\n", mt_registry_get_default (), NULL, &err);
  ck_assert (g != NULL);
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
  MtRunOptions opts = { .jobs = 2 };
  ck_assert_msg (mt_executor_run (g, cache, &opts, &err), "%s", err ? err->message : "");
  g_autoptr (MtBundle) weights = NULL, ds = NULL;
  g_autoptr (MtTensor) maps = NULL;
  g_autoptr (GPtrArray) keys = mt_cache_list_keys (cache, &err);
  for (guint i = 0; i < keys->len; i++) {
    g_autoptr (MtManifest) m = mt_cache_lookup (cache, keys->pdata[i], &err);
    g_autofree char *p0 = mt_cache_output_path (cache, m->outputs->pdata[0]);
    if (g_strcmp0 (m->type, "trainer") == 0)
      weights = mt_safetensors_load (p0, &err);
    else if (g_strcmp0 (m->type, "biaser") == 0)
      ds = mt_safetensors_load (p0, &err);
    else if (g_strcmp0 (m->type, "xgradcam") == 0)
      maps = mt_npy_load (p0, &err);
  }
  ck_assert (weights && ds && maps);
  g_autoptr (MtModel) model = mt_model_from_bundle (weights, "m", &err);
  MtTensor *images = mt_bundle_get (ds, MT_DATASET_IMAGES);
  const int n = 2;
  g_autofree float *x = g_new (float, n * 3 * 784);
  for (int i = 0; i < n * 3 * 784; i++)
    x[i] = ((guint8 *) images->data)[i] / 255.0f;
  const float *logits = mt_model_forward (model, x, n, FALSE);
  int pred[2];
  for (int i = 0; i < n; i++)
    pred[i] = logits[2 * i + 1] > logits[2 * i];
  const char *layer = mt_arch_lookup ("small_cnn")->target_layer;
  int c, h, w;
  gsize per = 32 * 8 * 8;
  g_autofree float *a = g_memdup2 (mt_model_activation (model, layer, &c, &h, &w), n * per * sizeof (float));
  for (int i = 0; i < n; i++) {
    /* G from the double-precision references of the layers above the target layer
     * (max-pool, linear, batch norm in eval mode, ReLU, linear): no float code shared
     * with the node, and no finite-difference noise at the pooling's near-ties. */
    double gnum[32 * 64];
    reference_gradient (weights, a + i * per, pred[i], gnum);
    /* XGradCAM by its definition. */
    float cam[64] = { 0 };
    for (int ch = 0; ch < 32; ch++) {
      double ga = 0, sa = 0;
      for (int p = 0; p < 64; p++) {
        ga += gnum[ch * 64 + p] * a[i * per + ch * 64 + p];
        sa += a[i * per + ch * 64 + p];
      }
      double wc = ga / (sa + 1e-7);
      for (int p = 0; p < 64; p++)
        cam[p] += (float) (wc * a[i * per + ch * 64 + p]);
    }
    float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;
    for (int p = 0; p < 64; p++) {
      cam[p] = MAX (cam[p], 0.0f);
      lo = MIN (lo, cam[p]);
    }
    for (int p = 0; p < 64; p++)
      hi = MAX (hi, cam[p] - lo);
    for (int p = 0; p < 64; p++)
      cam[p] = (cam[p] - lo) / (hi + 1e-7f);
    float big[784];
    mt_resize_bilinear (cam, 8, 8, big, 28, 28);
    double worst = 0, peak = 0;
    for (int p = 0; p < 784; p++) {
      worst = MAX (worst, fabs (big[p] - ((float *) maps->data)[i * 784 + p]));
      peak = MAX (peak, ((float *) maps->data)[i * 784 + p]);
    }
    ck_assert_msg (peak > 0.5, "sample %d: an empty heat map proves nothing", i);
    ck_assert_msg (worst < 1e-3, "sample %d: largest difference %g", i, worst);
  }
  mt_file_remove_tree (dir, NULL);
}
END_TEST

static void
expect_mask (MtMaskRule rule, const float *heat, int len, const char *expect_keep)
{
  guint8 keep[64];
  int masked = mt_mask_compute (&rule, heat, len, keep);
  int expect_masked = 0;
  for (int i = 0; i < len; i++) {
    ck_assert_msg (keep[i] == (expect_keep[i] == '1'), "method %d pixel %d", rule.method, i);
    expect_masked += expect_keep[i] == '0';
  }
  ck_assert_int_eq (masked, expect_masked);
}

START_TEST (mask_rules)
{
  const float heat[8] = { 0, 0.1f, 0.2f, 0.2f, 0.5f, 0.9f, 1.0f, 0 };
  /* mean_std over positives {.1 .2 .2 .5 .9 1}: mean .48333, std .34679;
   * k = 1 -> cut .83013: masks .9 and 1; k = 2 -> cut 1.177: nothing. */
  expect_mask ((MtMaskRule) { MT_MASK_MEAN_STD, .k = 1 }, heat, 8, "11111001");
  expect_mask ((MtMaskRule) { MT_MASK_MEAN_STD, .k = 2 }, heat, 8, "11111111");
  expect_mask ((MtMaskRule) { MT_MASK_MEAN_STD, .k = 0 }, heat, 8, "11110001");
  /* No positive value: nothing is masked. */
  const float cold[4] = { 0, 0, -1, 0 };
  expect_mask ((MtMaskRule) { MT_MASK_MEAN_STD, .k = 0 }, cold, 4, "1111");
  /* threshold: strictly above tau (0.2 is not above 0.2). */
  expect_mask ((MtMaskRule) { MT_MASK_THRESHOLD, .tau = 0.2 }, heat, 8, "11110001");
  /* top_k: round(0.25 * 8) = 2 hottest; ties go to the earlier pixel. */
  expect_mask ((MtMaskRule) { MT_MASK_TOP_K, .fraction = 0.25 }, heat, 8, "11111001");
  expect_mask ((MtMaskRule) { MT_MASK_TOP_K, .fraction = 0.5 }, heat, 8, "11010001");  /* 4: 1, .9, .5, first .2 */
  expect_mask ((MtMaskRule) { MT_MASK_TOP_K, .fraction = 0 }, heat, 8, "11111111");
  /* mean_scale: mean 0.3625; factor 2 -> cut .725 */
  expect_mask ((MtMaskRule) { MT_MASK_MEAN_SCALE, .factor = 2 }, heat, 8, "11111001");
  expect_mask ((MtMaskRule) { MT_MASK_MEAN_SCALE, .factor = 1 }, heat, 8, "11110001");
}
END_TEST

START_TEST (mask_upsampling)
{
  const guint8 in[4] = { 0, 1, 1, 1 };  /* masked top-left */
  guint8 out[16];
  mt_mask_upsample (in, 2, 2, out, 4, 4, FALSE);
  const guint8 nearest[16] = { 0, 0, 1, 1,  0, 0, 1, 1,  1, 1, 1, 1,  1, 1, 1, 1 };
  ck_assert (memcmp (out, nearest, 16) == 0);
  /* Bilinear rows: [0 .25 .75 1], [.25 .4375 .8125 1], [.75 .8125 .9375 1], [1 1 1 1];
   * kept where >= 0.5 */
  mt_mask_upsample (in, 2, 2, out, 4, 4, TRUE);
  const guint8 bilinear[16] = { 0, 0, 1, 1,  0, 0, 1, 1,  1, 1, 1, 1,  1, 1, 1, 1 };
  ck_assert (memcmp (out, bilinear, 16) == 0);
  /* Where they differ: a lone masked pixel in a 2 x 2 map upsampled to 3 x 3. */
  const guint8 one[4] = { 1, 1, 1, 0 };
  guint8 o3[9];
  mt_mask_upsample (one, 2, 2, o3, 3, 3, FALSE);
  const guint8 n3[9] = { 1, 1, 1,  1, 0, 0,  1, 0, 0 };
  ck_assert (memcmp (o3, n3, 9) == 0);
  mt_mask_upsample (one, 2, 2, o3, 3, 3, TRUE);  /* centre: 0.75 kept; corner: 0 masked */
  const guint8 b3[9] = { 1, 1, 1,  1, 1, 1,  1, 1, 0 };
  ck_assert (memcmp (o3, b3, 9) == 0);
}
END_TEST

START_TEST (masker_node)
{
  g_autofree char *dir = mt_test_tmpdir ();
  /* A 2-sample RGB dataset and hand-made heat maps, through npy_file and a tiny plugin-free path. */
  gint64 ishape[] = { 2, 3, 2, 2 }, lshape[] = { 2 }, hshape[] = { 2, 2, 2 };
  g_autoptr (MtTensor) images = mt_tensor_new (MT_DTYPE_U8, 4, ishape);
  memset (images->data, 200, images->nbytes);
  g_autoptr (MtTensor) labels = mt_tensor_new (MT_DTYPE_I64, 1, lshape);
  g_autoptr (MtBundle) ds = mt_bundle_new ();
  mt_bundle_set (ds, MT_DATASET_IMAGES, images);
  mt_bundle_set (ds, MT_DATASET_LABELS, labels);
  g_autoptr (MtTensor) heat = mt_tensor_new (MT_DTYPE_F32, 3, hshape);
  const float hv[8] = { 0.9f, 0.1f, 0.2f, 0.3f,   0, 0, 0, 0 };
  memcpy (heat->data, hv, sizeof hv);

  /* Run the node directly on a context, as the executor would. */
  g_autofree char *dpath = g_build_filename (dir, "ds.safetensors", NULL);
  g_autofree char *hpath = g_build_filename (dir, "heat.npy", NULL);
  ck_assert (mt_safetensors_save (ds, dpath, NULL));
  ck_assert (mt_npy_save (heat, hpath, NULL));
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) g = mt_graph_load_string ("m.pipe",
    "d = toy_data()\ns = toy_saliency(d)\nm = masker(d, s, method=\"threshold\", tau=0.25)\n", mt_test_registry (), NULL, &err);
  ck_assert_msg (g != NULL, "%s", err ? err->message : "");
  MtDagNode *mn = mt_dag_find (g, "m");
  const char *paths[] = { dpath, hpath };
  g_autofree char *tmp = g_build_filename (dir, "out", NULL);
  g_mkdir_with_parents (tmp, 0755);
  g_autoptr (MtContext) ctx = mt_context_new (mn, paths, tmp, tmp, NULL);
  ck_assert_msg (mt_node_run (mn->node, ctx, &err), "%s", err ? err->message : "");

  g_autoptr (MtBundle) out = mt_safetensors_load (mt_context_get_output_file (ctx, "dataset"), &err);
  g_autoptr (MtTensor) mask = mt_npy_load (mt_context_get_output_file (ctx, "mask"), &err);
  MtTensor *mi = mt_bundle_get (out, MT_DATASET_IMAGES);
  const guint8 expect_keep[8] = { 0, 1, 1, 0,   1, 1, 1, 1 };
  for (int i = 0; i < 2; i++)
    for (int p = 0; p < 4; p++) {
      ck_assert_int_eq (((guint8 *) mask->data)[i * 4 + p], expect_keep[i * 4 + p]);
      for (int ch = 0; ch < 3; ch++)  /* masked in every channel */
        ck_assert_int_eq (((guint8 *) mi->data)[(i * 3 + ch) * 4 + p], expect_keep[i * 4 + p] ? 200 : 0);
    }
  g_autoptr (JsonParser) jp = json_parser_new ();
  ck_assert (json_parser_load_from_file (jp, mt_context_get_output_file (ctx, "report"), NULL));
  JsonObject *rep = json_node_get_object (json_parser_get_root (jp));
  ck_assert_double_eq_tol (json_object_get_double_member (rep, "masked_fraction"), 2.0 / 8, 1e-9);
  JsonArray *per = json_object_get_array_member (rep, "per_sample");
  ck_assert_double_eq_tol (json_array_get_double_element (per, 0), 0.5, 1e-9);
  ck_assert_double_eq_tol (json_array_get_double_element (per, 1), 0.0, 1e-9);

  /* A map with a NaN (or an infinity) has no order to mask by: the node names it. */
  ((float *) heat->data)[6] = NAN;
  ck_assert (mt_npy_save (heat, hpath, NULL));
  g_autofree char *tmp2 = g_build_filename (dir, "out2", NULL);
  g_mkdir_with_parents (tmp2, 0755);
  g_autoptr (MtContext) ctx2 = mt_context_new (mn, paths, tmp2, tmp2, NULL);
  ck_assert (!mt_node_run (mn->node, ctx2, &err));
  ck_assert_msg (strstr (err->message, "heat map 1 holds a NaN or an infinity"), "%s", err->message);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (preview_panels)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autoptr (GError) err = NULL;
  g_autoptr (MtDag) g = mt_graph_load_string ("p.pipe",
    "d = mnist(limit=64)\nb = biaser(d)\nm = trainer(b, epochs=1, batch_size=32, val_fraction=0)\n"
    "c = xgradcam(m, b)\nk = masker(b, c, method=\"top_k\", fraction=0.25)\n"
    "p = preview(b, saliency=c, mask=k.mask, masked=k.dataset, count=4, scale=2, sample=\"first\")\n"
    "c8 = xgradcam(m, b, resolution=\"cam\")\n"
    "k8 = masker(b, c8, resolution=\"cam\", method=\"top_k\", fraction=0.25)\n",
    mt_registry_get_default (), NULL, &err);
  ck_assert_msg (g != NULL, "%s", err ? err->message : "");
  g_autofree char *cdir = g_build_filename (dir, "cache", NULL);
  g_autoptr (MtCache) cache = mt_cache_open (cdir, &err);
  MtRunOptions opts = { .jobs = 2 };
  ck_assert_msg (mt_executor_run (g, cache, &opts, &err), "%s", err ? err->message : "");
  g_autoptr (GPtrArray) keys = mt_cache_list_keys (cache, &err);
  g_autoptr (MtTensor) png = NULL, heat = NULL, mask = NULL;
  for (guint i = 0; i < keys->len; i++) {
    g_autoptr (MtManifest) m = mt_cache_lookup (cache, keys->pdata[i], &err);
    if (g_strcmp0 (m->type, "preview") == 0) {
      g_autofree char *path = mt_cache_output_path (cache, m->outputs->pdata[0]);
      png = mt_png_load (path, &err);
    } else if (g_strcmp0 (m->type, "xgradcam") == 0) {
      g_autofree char *path = mt_cache_output_path (cache, m->outputs->pdata[0]);
      g_autoptr (MtTensor) t = mt_npy_load (path, &err);
      if (t->shape[1] == 28)
        heat = g_steal_pointer (&t);
      else
        ck_assert_int_eq (t->shape[1], 8);  /* resolution="cam": the layer's 8 x 8 */
    } else if (g_strcmp0 (m->type, "masker") == 0) {
      g_autofree char *path = mt_cache_output_path (cache, mt_manifest_find_output (m, "mask"));
      g_autoptr (MtTensor) t = mt_npy_load (path, &err);
      ck_assert_int_eq (t->shape[1], 28);
      if (g_strcmp0 (m->node, "k") == 0)
        mask = g_steal_pointer (&t);
      else {
        /* 16 of 64 cells masked, each about (28/8)^2 pixels: a quarter of the image. */
        gint64 masked = 0;
        for (gsize q = 0; q < t->nbytes; q++)
          masked += !((guint8 *) t->data)[q];
        double f = (double) masked / (double) t->nbytes;
        ck_assert_msg (f > 0.2 && f < 0.3, "cam-resolution masked fraction %f", f);
      }
    }
  }
  ck_assert (png && heat && mask);
  /* 4 rows of 56x56 tiles 8 apart under a 24-pixel title band; 4 columns 72 wide (a
   * 64-pixel row label first), then the colour bar. */
  ck_assert_int_eq (png->shape[0], 24 + 4 * 64 + 8);
  ck_assert_int_eq (png->shape[1], 64 + 8 + 4 * 80 + 14 + 40);
  const guint8 *px = png->data;
  for (int s = 0; s < 4; s++) {
    int y = 24 + s * 64 + 10, x = 10;  /* image pixel (5, 5) of sample s */
    float v = ((float *) heat->data)[s * 784 + 5 * 28 + 5];
    const guint8 *hp = px + ((gsize) y * png->shape[1] + 80 + 80 + x) * 3;
    /* jet: red rises past 0.375, blue falls past 0.625 */
    if (v > 0.9f)
      ck_assert (hp[0] > 200 && hp[2] < 50);
    if (v < 0.1f)
      ck_assert (hp[2] > 100 && hp[0] == 0);
    const guint8 *mp = px + ((gsize) y * png->shape[1] + 80 + 2 * 80 + x) * 3;
    ck_assert_int_eq (mp[0], ((guint8 *) mask->data)[s * 784 + 5 * 28 + 5] ? 255 : 0);
  }
  mt_file_remove_tree (dir, NULL);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("saliency");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, cam_formulas);
  tcase_add_test (tc, bilinear_half_pixel);
  tcase_add_test (tc, target_layer_gradient);
  tcase_add_test (tc, xgradcam_node_against_definition);
  tcase_add_test (tc, mask_rules);
  tcase_add_test (tc, mask_upsampling);
  tcase_add_test (tc, masker_node);
  tcase_add_test (tc, preview_panels);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}

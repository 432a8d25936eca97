/* The data loader: a streamed dataset (decoded from its files batch by batch, by worker
 * threads) gives the same bytes as the same dataset held in memory, through training,
 * saliency, masking, fine-tuning, evaluation and figures; the random augmentations are
 * torchvision's and repeat exactly; a file that goes bad is named, or skipped and counted
 * with skip_bad. */
#include "tests/mt-test-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A two-class folder of @n images per class, 40 x 36, PNG and JPEG, with a bright square
 * in one corner per class (something to learn). */
static char *
make_folder (const char *dir, int n)
{
  g_autofree char *root = g_build_filename (dir, "pets", NULL);
  MtRng rng;
  mt_rng_seed (&rng, 5);
  for (int cls = 0; cls < 2; cls++)
    for (int i = 0; i < n; i++) {
      gint64 shape[] = { 40, 36, 3 };
      g_autoptr (MtTensor) img = mt_tensor_new (MT_DTYPE_U8, 3, shape);
      guint8 *px = img->data;
      for (gint64 y = 0; y < 40; y++)
        for (gint64 x = 0; x < 36; x++)
          for (int k = 0; k < 3; k++) {
            gboolean square = (cls ? x > 22 : x < 12) && y < 14;
            px[(y * 36 + x) * 3 + k] = (guint8) (square ? 230 : 60 + mt_rng_below (&rng, 90));
          }
      g_autofree char *rel = g_strdup_printf ("%s/%03d.%s", cls ? "dog" : "cat", i, i % 3 ? "png" : "jpg");
      g_autofree char *p = g_build_filename (root, rel, NULL);
      g_autofree char *parent = g_path_get_dirname (p);
      g_mkdir_with_parents (parent, 0755);
      ck_assert (i % 3 ? mt_png_save (img, p, NULL) : mt_jpeg_save (img, p, 90, NULL));
    }
  return g_steal_pointer (&root);
}

static char *
file_digest (const char *dir, const char *name)
{
  g_autofree char *p = g_build_filename (dir, name, NULL);
  g_autoptr (GError) err = NULL;
  char *d = mt_file_sha256 (p, NULL, &err);
  ck_assert_msg (d != NULL, "%s", err ? err->message : "");
  return d;
}

static void
export_nodes (const char *dir, const char *const *env, const char *pipe, const char *out, const char *const *nodes)
{
  for (guint i = 0; nodes[i]; i++) {
    g_autofree char *err = NULL;
    ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "cache", "export", "-q", "-p", pipe, nodes[i], out, NULL) == 0,
                   "export %s: %s", nodes[i], err);
  }
}

START_TEST (streamed_equals_in_memory)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_free (make_folder (dir, 24));
  /* The same pipeline twice, on the images held and streamed; training with augmentation. */
  GString *src = g_string_new ("");
  const char *kinds[] = { "memory", "stream" };
  for (int k = 0; k < 2; k++) {
    const char *s = kinds[k];
    g_string_append_printf (src,
      "d_%s = image_folder(root=\"pets\", resize=30, crop=28, load=\"%s\")\n"
      "erm_%s = trainer(d_%s, epochs=2, batch_size=16, random_crop=\"resized\", hflip=true, seed=4)\n"
      "cam_%s = xgradcam(erm_%s, d_%s)\n"
      "mk_%s = masker(d_%s, cam_%s)\n"
      "ft_%s = finetuner(erm_%s, mk_%s.dataset, state=erm_%s.state, random_crop=\"padded\", crop_padding=3)\n"
      "ev_%s = evaluator(models=[erm_%s, ft_%s], tests=[d_%s, mk_%s.dataset])\n"
      "pv_%s = preview(d_%s, saliency=cam_%s, mask=mk_%s.mask, masked=mk_%s.dataset, count=6)\n",
      s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s);
  }
  g_autofree char *pipe = mt_test_write (dir, "p.pipe", src->str);
  g_string_free (src, TRUE);
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { cenv, NULL };
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", "-j", "2", pipe, NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "48 images of 28x28, streamed from"), "%s", err);
  g_autofree char *out = g_build_filename (dir, "out", NULL);
  const char *nodes[] = { "d_stream", "erm_memory", "erm_stream", "cam_memory", "cam_stream", "mk_memory", "mk_stream",
                          "ft_memory", "ft_stream", "ev_memory", "ev_stream", "pv_memory", "pv_stream", NULL };
  export_nodes (dir, env, pipe, out, nodes);

  /* The streamed dataset holds paths, not pixels, and its masked copy a keep mask. */
  g_autofree char *sp = g_build_filename (out, "d_stream.dataset.safetensors", NULL);
  g_autoptr (MtBundle) sd = mt_safetensors_load (sp, NULL);
  ck_assert (sd && !mt_bundle_get (sd, "images") && mt_bundle_get (sd, "paths"));
  g_autofree char *mp = g_build_filename (out, "mk_stream.dataset.safetensors", NULL);
  g_autoptr (MtBundle) md = mt_safetensors_load (mp, NULL);
  ck_assert (md && !mt_bundle_get (md, "images") && mt_bundle_get (md, "keep"));

  const char *same[][2] = { { "erm_", ".model.safetensors" }, { "erm_", ".state.safetensors" },
                            { "cam_", ".saliency.npy" }, { "mk_", ".mask.npy" }, { "ft_", ".model.safetensors" },
                            { "pv_", ".image.png" } };
  for (guint i = 0; i < G_N_ELEMENTS (same); i++) {
    g_autofree char *a = g_strconcat (same[i][0], "memory", same[i][1], NULL);
    g_autofree char *b = g_strconcat (same[i][0], "stream", same[i][1], NULL);
    g_autofree char *da = file_digest (out, a), *db = file_digest (out, b);
    ck_assert_msg (g_str_equal (da, db), "%s and %s differ", a, b);
  }
  /* The reports agree but for the test sets' names and digests (their provenance). */
  g_autofree char *ra = NULL, *rb = NULL;
  g_autofree char *pa = g_build_filename (out, "ev_memory.report.json", NULL), *pb = g_build_filename (out, "ev_stream.report.json", NULL);
  ck_assert (g_file_get_contents (pa, &ra, NULL, NULL) && g_file_get_contents (pb, &rb, NULL, NULL));
  g_autoptr (GRegex) names = g_regex_new ("_?(memory|stream)|[0-9a-f]{64}", 0, 0, NULL);
  g_autofree char *na = g_regex_replace_literal (names, ra, -1, 0, "", 0, NULL);
  g_autofree char *nb = g_regex_replace_literal (names, rb, -1, 0, "", 0, NULL);
  gsize at = 0;
  while (na[at] && na[at] == nb[at])
    at++;
  ck_assert_msg (na[at] == 0 && nb[at] == 0, "the reports differ at byte %" G_GSIZE_FORMAT ": %.60s | %.60s", at,
                 na + at, nb + at);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (augmentations)
{
  /* RandomResizedCrop's parameters stay inside the image and the ranges; a square image
   * with an impossible ratio falls back to the central crop, as torchvision does. */
  MtAugment a = { MT_AUGMENT_CROP_RESIZED, { 0.7, 1.0 }, { 3.0 / 4, 4.0 / 3 }, 0, FALSE };
  MtRng rng;
  mt_rng_seed (&rng, 1);
  for (int t = 0; t < 2000; t++) {
    int top, left, ch, cw;
    mt_augment_resized_crop_params (&a, &rng, 50, 70, &top, &left, &ch, &cw);
    ck_assert (top >= 0 && left >= 0 && top + ch <= 50 && left + cw <= 70);
    double area = (double) ch * cw / (50.0 * 70.0), ratio = (double) cw / ch;
    /* rounding to whole pixels widens the ranges a little */
    ck_assert_msg (area >= 0.68 && area <= 1.0, "area %f", area);
    ck_assert_msg (ratio >= 0.73 && ratio <= 1.37, "ratio %f", ratio);
  }
  MtAugment wide = { MT_AUGMENT_CROP_RESIZED, { 1.0, 1.0 }, { 2.0, 3.0 }, 0, FALSE };
  int top, left, ch, cw;
  mt_augment_resized_crop_params (&wide, &rng, 40, 40, &top, &left, &ch, &cw);
  ck_assert (ch == 20 && cw == 40 && top == 10 && left == 0);

  /* A padded crop moves the image by at most the padding, filling zeros; the same seed
   * gives the same image, flips come in about half the draws. */
  const int c = 3, h = 12, w = 10;
  guint8 img[3 * 12 * 10], copy[3 * 12 * 10];
  for (int i = 0; i < c * h * w; i++)
    img[i] = (guint8) (1 + i % 250);
  MtAugment pad = { MT_AUGMENT_CROP_PADDED, { 1, 1 }, { 1, 1 }, 2, FALSE };
  for (guint64 seed = 0; seed < 50; seed++) {
    memcpy (copy, img, sizeof img);
    mt_augment_apply (&pad, seed, copy, c, h, w);
    gboolean found = FALSE;
    for (int dy = -2; dy <= 2 && !found; dy++)
      for (int dx = -2; dx <= 2 && !found; dx++) {
        gboolean ok = TRUE;
        for (int k = 0; k < c && ok; k++)
          for (int y = 0; y < h && ok; y++)
            for (int x = 0; x < w && ok; x++) {
              int sy = y + dy, sx = x + dx;
              guint8 want = sy >= 0 && sy < h && sx >= 0 && sx < w ? img[(k * h + sy) * w + sx] : 0;
              ok = copy[(k * h + y) * w + x] == want;
            }
        found = ok;
      }
    ck_assert_msg (found, "seed %" G_GUINT64_FORMAT ": not a shifted copy", seed);
    guint8 again[sizeof img];
    memcpy (again, img, sizeof img);
    mt_augment_apply (&pad, seed, again, c, h, w);
    ck_assert (memcmp (again, copy, sizeof img) == 0);
  }
  MtAugment flip = { MT_AUGMENT_CROP_NONE, { 1, 1 }, { 1, 1 }, 0, TRUE };
  int flipped = 0;
  for (guint64 seed = 0; seed < 400; seed++) {
    memcpy (copy, img, sizeof img);
    mt_augment_apply (&flip, seed, copy, c, h, w);
    if (memcmp (copy, img, sizeof img) != 0) {
      flipped++;
      ck_assert (copy[0] == img[w - 1] && copy[w - 1] == img[0]);
    }
  }
  ck_assert_msg (flipped > 160 && flipped < 240, "%d of 400 flipped", flipped);
  /* A crop that keeps everything changes nothing. */
  MtAugment all = { MT_AUGMENT_CROP_RESIZED, { 1.0, 1.0 }, { (double) w / h, (double) w / h }, 0, FALSE };
  memcpy (copy, img, sizeof img);
  mt_augment_apply (&all, 3, copy, c, h, w);
  ck_assert (memcmp (copy, img, sizeof img) == 0);
}
END_TEST

START_TEST (bad_files_are_named_or_skipped)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *root = make_folder (dir, 8);
  g_autofree char *bad = g_build_filename (root, "dog", "003.jpg", NULL);
  /* A truncated JPEG. */
  g_autofree char *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (bad, &bytes, &len, NULL));
  ck_assert (g_file_set_contents (bad, bytes, (gssize) (len / 3), NULL));
  g_autofree char *pipe = mt_test_write (dir, "p.pipe",
    "d = image_folder(root=\"pets\", crop=28)\n"
    "s = image_folder(root=\"pets\", crop=28, skip_bad=true)\n"
    "t = image_folder(root=\"pets\", crop=28, load=\"stream\", skip_bad=true)\n");
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { cenv, NULL };
  g_autofree char *err = NULL;
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, "--only", "d", NULL), 1);
  ck_assert_msg (strstr (err, "dog/003.jpg"), "%s", err);
  g_clear_pointer (&err, g_free);
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, "--until", "s", NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "skipped 1 image that could not be read (skip_bad)"), "%s", err);
  g_clear_pointer (&err, g_free);
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, "--until", "t", NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "skipped 1 image that could not be read (skip_bad)"), "%s", err);
  g_autofree char *out = g_build_filename (dir, "out", NULL);
  const char *nodes[] = { "s", "t", NULL };
  export_nodes (dir, env, pipe, out, nodes);
  for (int k = 0; k < 2; k++) {
    g_autofree char *p = g_build_filename (out, k ? "t.dataset.safetensors" : "s.dataset.safetensors", NULL);
    g_autoptr (MtBundle) b = mt_safetensors_load (p, NULL);
    ck_assert_str_eq (mt_bundle_get_metadata (b, "skipped_bad"), "1");
    ck_assert_int_eq (mt_dataset_size (b), 15);
  }

  /* A file of a streamed dataset that goes bad after the dataset was made (a rerun would
   * see it in the fingerprint; a run in progress meets it in the loader) fails the pass
   * with the file's name: a changed size, or the same size and broken content. */
  g_autofree char *tp = g_build_filename (out, "t.dataset.safetensors", NULL);
  g_autoptr (MtBundle) t = mt_safetensors_load (tp, NULL);
  ck_assert (mt_dataset_check (t, "t", NULL));
  g_autofree char *good = g_build_filename (root, "cat", "004.png", NULL);
  g_autofree char *orig = NULL;
  gsize olen = 0;
  ck_assert (g_file_get_contents (good, &orig, &olen, NULL));
  for (int k = 0; k < 2; k++) {
    g_autofree char *junk = g_malloc0 (olen);
    ck_assert (g_file_set_contents (good, junk, k ? (gssize) olen : 10, NULL));
    g_autoptr (MtLoader) l = mt_loader_new (t, 2);
    mt_loader_start (l, NULL, 0, 4, NULL, 0);
    g_autoptr (GError) lerr = NULL;
    int b = 0, batches = 0;
    while (mt_loader_next (l, &b, NULL, &lerr))
      batches++;
    ck_assert_msg (lerr && strstr (lerr->message, "cat/004.png"), "%s", lerr ? lerr->message : "no error");
    ck_assert_msg (k == 1 || strstr (lerr->message, "changed since the dataset was made"), "%s", lerr->message);
    ck_assert_int_eq (batches, 1);  /* 004 is the fifth: the first batch of four came */
  }
  mt_file_remove_tree (dir, NULL);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("loader");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, streamed_equals_in_memory);
  tcase_add_test (tc, augmentations);
  tcase_add_test (tc, bad_files_are_named_or_skipped);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}

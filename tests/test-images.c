/* Users' own images: JPEG (libjpeg-turbo) and PNG decoding, the transforms torchvision
 * applies (checked against PIL where python3-pil is installed), and the image_folder and
 * waterbirds nodes on fixtures in the exact layouts and file formats, with the errors a
 * damaged dataset gets. */
#include "tests/mt-test-util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static MtTensor *
random_image (MtRng *rng, gint64 h, gint64 w, gint64 c)
{
  gint64 shape[] = { h, w, c };
  MtTensor *t = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  /* smooth content (JPEG-friendly) with some noise */
  for (gint64 y = 0; y < h; y++)
    for (gint64 x = 0; x < w; x++)
      for (gint64 k = 0; k < c; k++)
        ((guint8 *) t->data)[(y * w + x) * c + k] =
          (guint8) CLAMP (128 + 80 * sin (0.3 * x + k) * cos (0.2 * y) + (double) mt_rng_below (rng, 20), 0, 255);
  return t;
}

static gboolean
have_pil (gboolean torchvision)
{
  const char *argv[] = { "/usr/bin/python3", "-c", torchvision ? "import PIL, numpy, torchvision" : "import PIL, numpy",
                         NULL };
  int status = 0;
  return g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE) &&
         g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                       NULL, NULL, NULL, NULL, &status, NULL) && g_spawn_check_wait_status (status, NULL);
}

static MtTensor *
pil (const char *const *args, const char *out)
{
  g_autofree char *script = g_build_filename (g_getenv ("MT_SRCDIR"), "tests", "check_pil.py", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) "/usr/bin/python3");
  g_ptr_array_add (argv, script);
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, (gpointer) out);
  g_ptr_array_add (argv, NULL);
  g_autofree char *err = NULL;
  int status = 0;
  ck_assert (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                           &status, NULL));
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "check_pil.py: %s", err);
  MtTensor *t = mt_npy_load (out, NULL);
  ck_assert_ptr_nonnull (t);
  return t;
}

static int
max_diff (const MtTensor *a, const MtTensor *b)
{
  ck_assert_int_eq (a->nbytes, b->nbytes);
  int worst = 0;
  for (gsize i = 0; i < a->nbytes; i++)
    worst = MAX (worst, abs ((int) ((guint8 *) a->data)[i] - (int) ((guint8 *) b->data)[i]));
  return worst;
}

START_TEST (jpeg_and_png_decode)
{
  g_autofree char *dir = mt_test_tmpdir ();
  MtRng rng;
  mt_rng_seed (&rng, 1);
  const gint64 channels[] = { 3, 1 };
  for (guint k = 0; k < 2; k++) {
    g_autoptr (MtTensor) img = random_image (&rng, 37, 52, channels[k]);
    g_autofree char *jp = g_build_filename (dir, k ? "grey.jpg" : "rgb.jpg", NULL);
    g_autoptr (GError) err = NULL;
    ck_assert_msg (mt_jpeg_save (img, jp, 95, &err), "%s", err ? err->message : "");
    g_autoptr (MtTensor) back = mt_jpeg_load (jp, &err);
    ck_assert_msg (back != NULL, "%s", err ? err->message : "");
    ck_assert (back->shape[0] == 37 && back->shape[1] == 52 && back->shape[2] == channels[k]);
    ck_assert_int_le (max_diff (img, back), 40);  /* lossy, but the same picture */
    g_autoptr (MtTensor) rgb = mt_image_load_rgb (jp, &err);  /* grey -> 3 equal channels */
    ck_assert (rgb && rgb->shape[2] == 3);
    if (have_pil (FALSE)) {  /* the same decoder PIL uses, the same pixels */
      g_autofree char *np = g_build_filename (dir, "pil.npy", NULL);
      const char *args[] = { "decode", jp, NULL };
      g_autoptr (MtTensor) want = pil (args, np);
      ck_assert_msg (max_diff (rgb, want) == 0, "JPEG decode differs from PIL's by %d", max_diff (rgb, want));
    }
    /* Truncated: an error naming the file, never a grey-padded image. */
    g_autofree char *bytes = NULL;
    gsize len = 0;
    ck_assert (g_file_get_contents (jp, &bytes, &len, NULL));
    g_autofree char *cut = g_build_filename (dir, "cut.jpg", NULL);
    ck_assert (g_file_set_contents (cut, bytes, (gssize) len / 2, NULL));
    g_clear_error (&err);
    ck_assert_ptr_null (mt_image_load_rgb (cut, &err));
    ck_assert_msg (strstr (err->message, "cut.jpg") && strstr (err->message, "JPEG"), "%s", err->message);
  }
  /* PNG by its magic bytes, whatever the name says. */
  g_autoptr (MtTensor) img = random_image (&rng, 9, 7, 1);
  g_autofree char *pp = g_build_filename (dir, "really-a-png.jpg", NULL);
  ck_assert (mt_png_save (img, pp, NULL));
  g_autoptr (GError) err = NULL;
  g_autoptr (MtTensor) rgb = mt_image_load_rgb (pp, &err);
  ck_assert_msg (rgb && rgb->shape[2] == 3 && ((guint8 *) rgb->data)[1] == ((guint8 *) img->data)[0], "%s",
                 err ? err->message : "");
  g_autofree char *junk = mt_test_write (dir, "junk.png", "GIF89a....");
  ck_assert_ptr_null (mt_image_load_rgb (junk, &err));
  ck_assert_msg (strstr (err->message, "junk.png: neither a PNG nor a JPEG"), "%s", err->message);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (transforms_as_pil_and_torchvision)
{
  MtRng rng;
  mt_rng_seed (&rng, 2);
  g_autoptr (MtTensor) img = random_image (&rng, 61, 83, 3);
  g_autoptr (MtTensor) small = mt_transform_resize (img, 20, 28);
  ck_assert (small->shape[0] == 20 && small->shape[1] == 28);
  g_autoptr (MtTensor) same = mt_transform_resize (img, 61, 83);
  ck_assert_int_eq (max_diff (img, same), 0);
  g_autoptr (GError) err = NULL;
  g_autoptr (MtTensor) sh = mt_transform_resize_shorter (img, 32);
  ck_assert (sh->shape[0] == 32 && sh->shape[1] == 43);  /* int(32 * 83 / 61) */
  g_autoptr (MtTensor) crop = mt_transform_center_crop (sh, 32, 32, &err);
  ck_assert (crop && crop->shape[0] == 32 && crop->shape[1] == 32);
  ck_assert_ptr_null (mt_transform_center_crop (sh, 40, 40, &err));
  if (!have_pil (FALSE)) {
    printf ("SKIP: PIL comparison (apt-get install python3-pil)\n");
    return;
  }
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *in = g_build_filename (dir, "in.npy", NULL), *out = g_build_filename (dir, "out.npy", NULL);
  ck_assert (mt_npy_save (img, in, NULL));
  const int sizes[][2] = { { 20, 28 }, { 61, 41 }, { 97, 131 }, { 7, 5 } };
  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++) {
    g_autofree char *hs = g_strdup_printf ("%d", sizes[k][0]), *ws = g_strdup_printf ("%d", sizes[k][1]);
    const char *args[] = { "resize", in, hs, ws, NULL };
    g_autoptr (MtTensor) want = pil (args, out);
    g_autoptr (MtTensor) got = mt_transform_resize (img, sizes[k][0], sizes[k][1]);
    int d = max_diff (got, want);
    printf ("resize to %dx%d: within %d of PIL\n", sizes[k][0], sizes[k][1], d);
    ck_assert_msg (d <= 1, "resize to %dx%d: %d from PIL's", sizes[k][0], sizes[k][1], d);
  }
  if (have_pil (TRUE)) {
    const char *args[] = { "torchvision", in, "36", "32", NULL };
    g_autoptr (MtTensor) want = pil (args, out);
    g_autoptr (MtTensor) r = mt_transform_resize_shorter (img, 36);
    g_autoptr (MtTensor) got = mt_transform_center_crop (r, 32, 32, &err);
    int d = max_diff (got, want);
    printf ("Resize(36) + CenterCrop(32): within %d of torchvision\n", d);
    ck_assert_int_le (d, 1);
  }
  mt_file_remove_tree (dir, NULL);
}
END_TEST

static void
save_image (const char *dir, const char *rel, MtTensor *img, gboolean jpeg)
{
  g_autofree char *p = g_build_filename (dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname (p);
  g_mkdir_with_parents (parent, 0755);
  g_autoptr (GError) err = NULL;
  ck_assert_msg (jpeg ? mt_jpeg_save (img, p, 90, &err) : mt_png_save (img, p, &err), "%s", err ? err->message : "");
}

static MtBundle *
exported_dataset (const char *dir, const char *pipe, const char *node, const char *const *env)
{
  g_autofree char *out = g_build_filename (dir, "out", NULL);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, NULL, "cache", "export", "-q", "-p", pipe, node, out, NULL), 0);
  g_autofree char *name = g_strdup_printf ("%s.dataset.safetensors", node);
  g_autofree char *p = g_build_filename (out, name, NULL);
  MtBundle *b = mt_safetensors_load (p, NULL);
  ck_assert_ptr_nonnull (b);
  return b;
}

START_TEST (image_folder_layout)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *root = g_build_filename (dir, "pets", NULL);
  MtRng rng;
  mt_rng_seed (&rng, 3);
  /* torchvision numbers classes in sorted order: cat 0, dog 1; files sorted within. */
  const struct { const char *rel; int h, w, c; gboolean jpeg; } files[] = {
    { "dog/b.png", 40, 50, 3, FALSE }, { "dog/a.JPG", 48, 40, 3, TRUE }, { "cat/x.jpeg", 44, 44, 1, TRUE },
    { "cat/sub/y.png", 60, 45, 1, FALSE }, { "cat/notes.txt", 0, 0, 0, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    if (!files[i].c) {
      g_autofree char *p = g_build_filename (root, files[i].rel, NULL);
      ck_assert (g_file_set_contents (p, "not an image", -1, NULL));
      continue;
    }
    g_autoptr (MtTensor) img = random_image (&rng, files[i].h, files[i].w, files[i].c);
    save_image (root, files[i].rel, img, files[i].jpeg);
  }
  g_autofree char *pipe = mt_test_write (dir, "p.pipe", "d = image_folder(root=\"pets\", resize=36, crop=32)\n");
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { cenv, NULL };
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "4 images of 32x32 in 2 classes"), "%s", err);
  g_autoptr (MtBundle) b = exported_dataset (dir, pipe, "d", env);
  MtTensor *images = mt_bundle_get (b, "images"), *labels = mt_bundle_get (b, "labels");
  ck_assert (images->shape[0] == 4 && images->shape[1] == 3 && images->shape[2] == 32 && images->shape[3] == 32);
  const gint64 want[] = { 0, 0, 1, 1 };
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq (((gint64 *) labels->data)[i], want[i]);
  ck_assert_str_eq (mt_bundle_get_metadata (b, "classes"), "cat\ndog");
  /* Without resize/crop, images of different sizes are an error naming one. */
  g_autofree char *pipe2 = mt_test_write (dir, "q.pipe", "d = image_folder(root=\"pets\")\n");
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", pipe2, NULL), 1);
  ck_assert_msg (strstr (err, "give resize and crop to make them one size"), "%s", err);
  /* An empty class folder is named. */
  g_autofree char *empty = g_build_filename (root, "emu", NULL);
  g_mkdir_with_parents (empty, 0755);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL), 1);
  ck_assert_msg (strstr (err, "pets/emu: no PNG or JPEG image in the class folder"), "%s", err);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (waterbirds_format)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *root = g_build_filename (dir, "waterbird_complete95_forest2water2", NULL);
  MtRng rng;
  mt_rng_seed (&rng, 4);
  /* The distributed metadata.csv's columns and folder names; pandas writes a header and
   * no index. Splits: 0 train, 1 val, 2 test. */
  GString *csv = g_string_new ("img_id,img_filename,y,split,place,place_filename\n");
  const struct { int y, split, place; } rows[] = {
    { 0, 0, 0 }, { 0, 0, 0 }, { 0, 0, 1 }, { 1, 0, 1 }, { 1, 0, 1 }, { 1, 0, 0 },
    { 0, 1, 0 }, { 1, 1, 1 }, { 0, 2, 1 }, { 1, 2, 0 }, { 1, 2, 1 }, { 0, 2, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    const char *species = rows[i].y ? "001.Black_footed_Albatross" : "014.Indigo_Bunting";
    g_autofree char *rel = g_strdup_printf ("%s/%s_%04u_%u.jpg", species, species + 4, i + 1, 100 + i);
    g_autoptr (MtTensor) img = random_image (&rng, 50 + (gint64) i, 40 + 2 * (gint64) i, 3);
    save_image (root, rel, img, TRUE);
    g_string_append_printf (csv, "%u,%s,%d,%d,%d,/%s/%c/bamboo_forest/00000%u.jpg\n", i + 1, rel, rows[i].y,
                            rows[i].split, rows[i].place, rows[i].place ? "ocean" : "forest", 'b', i);
  }
  g_autofree char *csv_path = g_build_filename (root, "metadata.csv", NULL);
  ck_assert (g_file_set_contents (csv_path, csv->str, -1, NULL));
  g_autofree char *pipe = mt_test_write (dir, "wb.pipe",
    "train = waterbirds(root=\"waterbird_complete95_forest2water2\", resize=36, crop=32)\n"
    "test = waterbirds(root=\"waterbird_complete95_forest2water2\", split=\"test\", resize=36, crop=32)\n");
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { cenv, NULL };
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "6 images; groups (y, place): 2, 1, 1, 2") && strstr (err, "4 images; groups"), "%s", err);
  g_autoptr (MtBundle) b = exported_dataset (dir, pipe, "test", env);
  MtTensor *groups = mt_bundle_get (b, "groups"), *labels = mt_bundle_get (b, "labels");
  const gint64 want_g[] = { 1, 2, 3, 0 }, want_y[] = { 0, 1, 1, 0 };
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq (((gint64 *) groups->data)[i], want_g[i]);
    ck_assert_int_eq (((gint64 *) labels->data)[i], want_y[i]);
  }
  /* Changing one image's bytes changes the key: the fingerprint reads the files. */
  g_clear_pointer (&err, g_free);
  g_autofree char *out = NULL;
  ck_assert_int_eq (mt_test_mtrun (dir, env, &out, NULL, "status", pipe, NULL), 0);
  ck_assert_msg (strstr (out, "cached"), "%s", out);
  /* A damaged file fails the node naming it; a path that leaves the folder is refused. */
  g_autofree char *victim = g_strdup_printf ("%s/001.Black_footed_Albatross/Black_footed_Albatross_0011_110.jpg", root);
  g_autofree char *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (victim, &bytes, &len, NULL));
  ck_assert (g_file_set_contents (victim, bytes, (gssize) len / 3, NULL));
  g_clear_pointer (&out, g_free);
  ck_assert_int_eq (mt_test_mtrun (dir, env, &out, NULL, "status", pipe, NULL), 0);
  ck_assert_msg (strstr (out, "its source data changed"), "%s", out);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL), 1);
  ck_assert_msg (strstr (err, "Black_footed_Albatross_0011_110.jpg") && strstr (err, "JPEG"), "%s", err);
  g_string_append (csv, "13,../../etc/passwd,0,2,0,x\n");
  ck_assert (g_file_set_contents (csv_path, csv->str, -1, NULL));
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL), 1);
  ck_assert_msg (strstr (err, "row 14: img_filename '../../etc/passwd' leaves the dataset's folder"), "%s", err);
  ck_assert (g_file_set_contents (csv_path, "img_id,img_filename,y,split\n1,a.jpg,0,0\n", -1, NULL));
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL), 1);
  ck_assert_msg (strstr (err, "metadata.csv: no column 'place'"), "%s", err);
  g_string_free (csv, TRUE);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (celeba_format)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *root = g_build_filename (dir, "celeba", NULL);
  MtRng rng;
  mt_rng_seed (&rng, 5);
  /* As distributed: a count line, the attribute names, then a file name and +-1 values
   * padded to columns with one or two spaces; partitions 0/1/2. */
  GString *attr = g_string_new ("8\n5_o_Clock_Shadow Blond_Hair Male Smiling \n");
  GString *part = g_string_new (NULL);
  const struct { int blond, male, split; } rows[] = {
    { 1, 0, 0 }, { -1, 1, 0 }, { 1, 1, 0 }, { -1, 0, 0 }, { -1, -1, 1 }, { 1, 1, 2 }, { -1, 1, 2 }, { 1, -1, 2 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    g_autofree char *name = g_strdup_printf ("%06u.jpg", i + 1);
    g_autofree char *rel = g_build_filename ("img_align_celeba", name, NULL);
    g_autoptr (MtTensor) img = random_image (&rng, 218, 178, 3);  /* the aligned crops' size */
    save_image (root, rel, img, TRUE);
    int male = rows[i].male < 0 ? -1 : rows[i].male ? 1 : -1, blond = rows[i].blond;
    g_string_append_printf (attr, "%s %s %s %s %s\n", name, "-1", blond > 0 ? " 1" : "-1", male > 0 ? " 1" : "-1", " 1");
    g_string_append_printf (part, "%s %d\n", name, rows[i].split);
  }
  g_autofree char *ap = g_build_filename (root, "list_attr_celeba.txt", NULL);
  g_autofree char *pp = g_build_filename (root, "list_eval_partition.txt", NULL);
  ck_assert (g_file_set_contents (ap, attr->str, -1, NULL) && g_file_set_contents (pp, part->str, -1, NULL));
  g_autofree char *pipe = mt_test_write (dir, "c.pipe",
    "train = celeba(root=\"celeba\", resize=36, crop=32)\n"
    "test = celeba(root=\"celeba\", split=\"test\", resize=36, crop=32)\n");
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { cenv, NULL };
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL) == 0, "%s", err);
  /* groups = 2 male + blond: train rows are (1,0) (0,1) (1,1) (0,0) -> 1, 2, 3, 0 */
  ck_assert_msg (strstr (err, "4 images; groups (Male, Blond_Hair): 1, 1, 1, 1") &&
                 strstr (err, "3 images; groups (Male, Blond_Hair): 0, 1, 1, 1"), "%s", err);
  g_autoptr (MtBundle) b = exported_dataset (dir, pipe, "train", env);
  const gint64 want_g[] = { 1, 2, 3, 0 }, want_y[] = { 1, 0, 1, 0 };
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq (((gint64 *) mt_bundle_get (b, "groups")->data)[i], want_g[i]);
    ck_assert_int_eq (((gint64 *) mt_bundle_get (b, "labels")->data)[i], want_y[i]);
  }
  g_autofree char *bad = mt_test_write (dir, "bad.pipe", "t = celeba(root=\"celeba\", target=\"Blonde\")\n");
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", bad, NULL), 1);
  ck_assert_msg (strstr (err, "list_attr_celeba.txt: no attribute 'Blonde'"), "%s", err);
  g_string_free (attr, TRUE);
  g_string_free (part, TRUE);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

START_TEST (image_table_csv)
{
  g_autofree char *dir = mt_test_tmpdir ();
  MtRng rng;
  mt_rng_seed (&rng, 6);
  /* Names as labels (numbered in sorted order), a group column, a split column, a quoted
   * path with a comma. */
  const char *csv = "file,kind,site,fold\n"
                    "img/a.png,zebra,north,train\n"
                    "\"img/b, c.jpg\",ant,south,train\n"
                    "img/d.png,zebra,south,test\n"
                    "img/e.jpg,ant,north,train\n";
  const char *files[] = { "img/a.png", "img/b, c.jpg", "img/d.png", "img/e.jpg" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autoptr (MtTensor) img = random_image (&rng, 30, 30, i % 2 ? 3 : 1);
    save_image (dir, files[i], img, g_str_has_suffix (files[i], ".jpg"));
  }
  g_free (mt_test_write (dir, "list.csv", csv));
  g_autofree char *pipe = mt_test_write (dir, "t.pipe",
    "d = image_table(csv=\"list.csv\", path=\"file\", label=\"kind\", group=\"site\", split_column=\"fold\", "
    "split=\"train\")\n");
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { cenv, NULL };
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "3 images from list.csv, 2 classes"), "%s", err);
  g_autoptr (MtBundle) b = exported_dataset (dir, pipe, "d", env);
  const gint64 want_y[] = { 1, 0, 0 }, want_g[] = { 0, 1, 0 };  /* ant 0, zebra 1; north 0, south 1 */
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq (((gint64 *) mt_bundle_get (b, "labels")->data)[i], want_y[i]);
    ck_assert_int_eq (((gint64 *) mt_bundle_get (b, "groups")->data)[i], want_g[i]);
  }
  ck_assert_str_eq (mt_bundle_get_metadata (b, "classes"), "ant\nzebra");
  g_free (mt_test_write (dir, "list.csv", "file,kind\nimg/a.png,zebra\n"));
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL), 1);
  ck_assert_msg (strstr (err, "list.csv: no column 'site' (its columns: file, kind)"), "%s", err);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

/* The resize node: every image through the same transform, labels and groups kept. */
START_TEST (resize_node)
{
  g_autofree char *dir = mt_test_tmpdir ();
  g_autofree char *pipe = mt_test_write (dir, "r.pipe",
    "d = mnist(split=\"test\", limit=12)\nb = biaser(d)\nr = resize(b, size=40, crop=36)\n");
  g_autofree char *cenv = g_strdup_printf ("MT_CACHE_DIR=%s/cache", dir);
  const char *env[] = { cenv, NULL };
  g_autofree char *err = NULL;
  ck_assert_msg (mt_test_mtrun (dir, env, NULL, &err, "run", pipe, NULL) == 0, "%s", err);
  ck_assert_msg (strstr (err, "12 images 28x28 -> 36x36"), "%s", err);
  g_autoptr (MtBundle) b = exported_dataset (dir, pipe, "b", env);
  g_autoptr (MtBundle) r = exported_dataset (dir, pipe, "r", env);
  MtTensor *img = mt_bundle_get (r, "images");
  ck_assert (img->shape[0] == 12 && img->shape[1] == 3 && img->shape[2] == 36 && img->shape[3] == 36);
  ck_assert (mt_tensor_equal (mt_bundle_get (b, "groups"), mt_bundle_get (r, "groups")));
  ck_assert (mt_tensor_equal (mt_bundle_get (b, "labels"), mt_bundle_get (r, "labels")));
  /* Sample 0's first channel, resized here as the node did. */
  MtTensor *src = mt_bundle_get (b, "images");
  gint64 hwc[] = { 28, 28, 3 };
  g_autoptr (MtTensor) one = mt_tensor_new (MT_DTYPE_U8, 3, hwc);
  for (int p = 0; p < 28 * 28; p++)
    for (int k = 0; k < 3; k++)
      ((guint8 *) one->data)[p * 3 + k] = ((guint8 *) src->data)[k * 28 * 28 + p];
  g_autoptr (MtTensor) big = mt_transform_resize_shorter (one, 40);
  g_autoptr (MtTensor) want = mt_transform_center_crop (big, 36, 36, NULL);
  for (int p = 0; p < 36 * 36; p++)
    ck_assert_int_eq (((guint8 *) img->data)[p], ((guint8 *) want->data)[p * 3]);
  mt_file_remove_tree (dir, NULL);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("images");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, jpeg_and_png_decode);
  tcase_add_test (tc, transforms_as_pil_and_torchvision);
  tcase_add_test (tc, image_folder_layout);
  tcase_add_test (tc, waterbirds_format);
  tcase_add_test (tc, celeba_format);
  tcase_add_test (tc, image_table_csv);
  tcase_add_test (tc, resize_node);
  suite_add_tcase (s, tc);
  return mt_test_run_suite (s);
}

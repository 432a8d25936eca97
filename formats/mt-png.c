#include "formats/mt-png.h"
#include "base/mt-error.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <glib/gstdio.h>

static int
color_type_for (gint64 channels)
{
  switch (channels) {
  case 1: return PNG_COLOR_TYPE_GRAY;
  case 3: return PNG_COLOR_TYPE_RGB;
  case 4: return PNG_COLOR_TYPE_RGBA;
  default: return -1;
  }
}

gboolean
mt_png_save (const MtTensor *img, const char *path, GError **error)
{
  if (img->dtype != MT_DTYPE_U8 || img->ndim != 3 || color_type_for (img->shape[2]) < 0 ||
      img->shape[0] <= 0 || img->shape[1] <= 0 || img->shape[0] > G_MAXINT32 || img->shape[1] > G_MAXINT32) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID,
                 "a PNG image must be a non-empty uint8 tensor [H, W, C] with C = 1, 3 or 4");
    return FALSE;
  }
  FILE *fp = g_fopen (path, "wb");
  if (!fp) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot create %s: %s", path, g_strerror (e));
    return FALSE;
  }
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct (png) : NULL;
  png_bytep *rows = NULL;
  if (!png || !info || setjmp (png_jmpbuf (png))) {
    png_destroy_write_struct (&png, &info);
    g_free (rows);
    fclose (fp);
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "libpng failed writing %s", path);
    return FALSE;
  }
  png_init_io (png, fp);
  png_uint_32 h = (png_uint_32) img->shape[0], w = (png_uint_32) img->shape[1];
  png_set_IHDR (png, info, w, h, 8, color_type_for (img->shape[2]), PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  rows = g_new (png_bytep, h);
  for (png_uint_32 y = 0; y < h; y++)
    rows[y] = (png_bytep) img->data + (gsize) y * w * img->shape[2];
  png_write_image (png, rows);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  g_free (rows);
  if (fclose (fp) != 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot write %s: %s", path, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

MtTensor *
mt_png_load (const char *path, GError **error)
{
  png_image image = { .version = PNG_IMAGE_VERSION };
  if (!png_image_begin_read_from_file (&image, path)) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: not a readable PNG: %s", path, image.message);
    return NULL;
  }
  int channels = PNG_IMAGE_PIXEL_CHANNELS (image.format);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 2 ? PNG_FORMAT_RGBA
               : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  channels = PNG_IMAGE_PIXEL_CHANNELS (image.format);
  gint64 shape[3] = { image.height, image.width, channels };
  MtTensor *t = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  if (!png_image_finish_read (&image, NULL, t->data, 0, NULL)) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: not a readable PNG: %s", path, image.message);
    png_image_free (&image);
    mt_tensor_unref (t);
    return NULL;
  }
  return t;
}

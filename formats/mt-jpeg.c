#include "formats/mt-jpeg.h"
#include "base/mt-error.h"
#include "base/mt-fileutil.h"

#include <stdio.h>  /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <string.h>

/* A decoded image larger than this is refused before its pixels are allocated. */
#define MT_JPEG_MAX_PIXELS (16384 * 16384)
#define MT_JPEG_MAX_FILE_BYTES ((gsize) 256 << 20)

typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  gboolean warned;
} ErrorMgr;

static void
on_error (j_common_ptr cinfo)
{
  ErrorMgr *e = (ErrorMgr *) cinfo->err;
  cinfo->err->format_message (cinfo, e->message);
  longjmp (e->jump, 1);
}

/* Warnings (level -1) are corrupt data: kept, and the load fails when done. */
static void
on_message (j_common_ptr cinfo, int level)
{
  ErrorMgr *e = (ErrorMgr *) cinfo->err;
  if (level < 0 && !e->warned) {
    cinfo->err->format_message (cinfo, e->message);
    e->warned = TRUE;
  }
}

MtTensor *
mt_jpeg_load (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!mt_file_read_regular (path, TRUE, MT_JPEG_MAX_FILE_BYTES, &data, &len, error))
    return NULL;
  struct jpeg_decompress_struct cinfo;
  ErrorMgr err = { 0 };
  cinfo.err = jpeg_std_error (&err.mgr);
  err.mgr.error_exit = on_error;
  err.mgr.emit_message = on_message;
  MtTensor *volatile img = NULL;
  if (setjmp (err.jump)) {
    jpeg_destroy_decompress (&cinfo);
    if (img)
      mt_tensor_unref (img);
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: not a readable JPEG: %s", path, err.message);
    return NULL;
  }
  jpeg_create_decompress (&cinfo);
  jpeg_mem_src (&cinfo, (const unsigned char *) data, len);
  jpeg_read_header (&cinfo, TRUE);
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  if ((guint64) cinfo.image_width * cinfo.image_height > MT_JPEG_MAX_PIXELS) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: a %ux%u JPEG is larger than masktune reads", path,
                 cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress (&cinfo);
    return NULL;
  }
  jpeg_start_decompress (&cinfo);
  gint64 shape[] = { cinfo.output_height, cinfo.output_width, cinfo.output_components };
  img = mt_tensor_try_alloc (MT_DTYPE_U8, 3, shape, error);
  if (!img) {
    jpeg_destroy_decompress (&cinfo);
    return NULL;
  }
  gsize stride = (gsize) cinfo.output_width * cinfo.output_components;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = (guint8 *) img->data + (gsize) cinfo.output_scanline * stride;
    jpeg_read_scanlines (&cinfo, &row, 1);
  }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  if (err.warned) {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: a damaged JPEG: %s", path, err.message);
    mt_tensor_unref (img);
    return NULL;
  }
  return img;
}

gboolean
mt_jpeg_save (const MtTensor *img, const char *path, int quality, GError **error)
{
  if (img->dtype != MT_DTYPE_U8 || img->ndim != 3 || (img->shape[2] != 1 && img->shape[2] != 3)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "%s: a JPEG is uint8 H x W x 1 or 3", path);
    return FALSE;
  }
  struct jpeg_compress_struct cinfo;
  ErrorMgr err = { 0 };
  cinfo.err = jpeg_std_error (&err.mgr);
  err.mgr.error_exit = on_error;
  unsigned char *volatile out = NULL;
  unsigned long out_len = 0;
  if (setjmp (err.jump)) {
    jpeg_destroy_compress (&cinfo);
    free (out);
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "%s: %s", path, err.message);
    return FALSE;
  }
  jpeg_create_compress (&cinfo);
  unsigned char *buf = NULL;
  jpeg_mem_dest (&cinfo, &buf, &out_len);
  cinfo.image_width = (JDIMENSION) img->shape[1];
  cinfo.image_height = (JDIMENSION) img->shape[0];
  cinfo.input_components = (int) img->shape[2];
  cinfo.in_color_space = img->shape[2] == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, CLAMP (quality, 1, 100), TRUE);
  jpeg_start_compress (&cinfo, TRUE);
  gsize stride = (gsize) img->shape[1] * img->shape[2];
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (guint8 *) img->data + (gsize) cinfo.next_scanline * stride;
    jpeg_write_scanlines (&cinfo, &row, 1);
  }
  jpeg_finish_compress (&cinfo);
  out = buf;
  jpeg_destroy_compress (&cinfo);
  gboolean ok = mt_file_write_atomic (path, out, out_len, error);
  free (out);
  return ok;
}

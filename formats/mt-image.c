#include "formats/mt-image.h"
#include "formats/mt-jpeg.h"
#include "formats/mt-png.h"
#include "base/mt-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static MtTensor *
to_rgb (MtTensor *img)
{
  gint64 c = img->shape[2];
  if (c == 3)
    return img;
  gint64 shape[] = { img->shape[0], img->shape[1], 3 };
  MtTensor *rgb = mt_tensor_new (MT_DTYPE_U8, 3, shape);
  const guint8 *s = img->data;
  guint8 *d = rgb->data;
  gint64 n = img->shape[0] * img->shape[1];
  for (gint64 i = 0; i < n; i++)
    for (int k = 0; k < 3; k++)
      d[i * 3 + k] = s[i * c + (c >= 3 ? k : 0)];  /* grey (+alpha): the grey; RGBA: RGB */
  mt_tensor_unref (img);
  return rgb;
}

MtTensor *
mt_image_load_rgb (const char *path, GError **error)
{
  guint8 magic[8] = { 0 };
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, MT_ERROR, MT_ERROR_IO, "cannot open %s: %s", path, g_strerror (e));
    return NULL;
  }
  ssize_t got = read (fd, magic, sizeof magic);
  close (fd);
  MtTensor *img = NULL;
  if (got >= 8 && memcmp (magic, "\x89PNG\r\n\x1a\n", 8) == 0)
    img = mt_png_load (path, error);
  else if (got >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff)
    img = mt_jpeg_load (path, error);
  else {
    g_set_error (error, MT_ERROR, MT_ERROR_FORMAT, "%s: neither a PNG nor a JPEG image", path);
    return NULL;
  }
  return img ? to_rgb (img) : NULL;
}

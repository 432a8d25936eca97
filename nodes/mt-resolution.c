#include "nodes/mt-resolution.h"

GType
mt_resolution_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { MT_RESOLUTION_INPUT, "MT_RESOLUTION_INPUT", "input" },
    { MT_RESOLUTION_CAM, "MT_RESOLUTION_CAM", "cam" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("MtResolution", values));
  return type;
}

/* Registering the enumerations node properties use, in one line each:
 *
 *   MT_DEFINE_ENUM_TYPE (my_mode_get_type, "MyMode",
 *                        { MY_A, "MY_A", "a" }, { MY_B, "MY_B", "b" })
 *
 * defines `static GType my_mode_get_type (void)`, registering the type once, thread-safely.
 * The nicks are what .pipe files write. */
#pragma once

#include <glib-object.h>

#define MT_DEFINE_ENUM_TYPE(fn, name, ...)                                   \
  static GType fn (void)                                                     \
  {                                                                          \
    static gsize type = 0;                                                   \
    static const GEnumValue values[] = { __VA_ARGS__, { 0, NULL, NULL } };   \
    if (g_once_init_enter (&type))                                           \
      g_once_init_leave (&type, g_enum_register_static (name, values));      \
    return type;                                                             \
  }

#include "runtime/mt-registry.h"

#include "base/mt-error.h"
#include "base/mt-name.h"
#include "runtime/mt-node.h"
#include "runtime/mt-plugin.h"
#include "runtime/mt-registry-private.h"

#include <string.h>

struct _MtRegistry {
  GMutex lock;
  GHashTable *types;    /* name -> GType (as pointer-sized) */
  GHashTable *origins;  /* name -> origin string */
  GPtrArray *rejected;  /* MtPluginRejection* */
  GPtrArray *plugins;   /* char* paths */
  GHashTable *seen;     /* canonical plugin paths already tried */
  const char *current_origin;
  MtPluginScanState scan;
};

MtPluginScanState *
mt_registry_scan_state (MtRegistry *reg)
{
  return &reg->scan;
}

static void
rejection_free (gpointer p)
{
  MtPluginRejection *r = p;
  g_free (r->path);
  g_free (r->reason);
  g_free (r);
}

MtRegistry *
mt_registry_new (void)
{
  MtRegistry *reg = g_new0 (MtRegistry, 1);
  g_mutex_init (&reg->lock);
  reg->types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  reg->origins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  reg->rejected = g_ptr_array_new_with_free_func (rejection_free);
  reg->plugins = g_ptr_array_new_with_free_func (g_free);
  reg->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  reg->current_origin = "built-in";
  return reg;
}

void
mt_registry_free (MtRegistry *reg)
{
  g_return_if_fail (reg != NULL);
  if (!reg)
    return;
  g_hash_table_unref (reg->types);
  g_hash_table_unref (reg->origins);
  g_ptr_array_unref (reg->rejected);
  g_ptr_array_unref (reg->plugins);
  g_hash_table_unref (reg->seen);
  g_free (reg->scan.scanner);
  g_free (reg->scan.file);
  g_clear_pointer (&reg->scan.db, json_object_unref);
  g_mutex_clear (&reg->lock);
  g_free (reg);
}

/* The MtPluginInfo path that built-in and loaded plugins both take: the entry point is
 * checked, then its register function adds its nodes under @origin. */
static char *
registry_check_info (const MtPluginInfo *info)
{
  if (info->abi_version != MT_PLUGIN_ABI_VERSION)
    return g_strdup_printf ("built for plugin ABI %u, this masktune has ABI %u: rebuild it",
                            info->abi_version, MT_PLUGIN_ABI_VERSION);
  if (!info->register_nodes)
    return g_strdup ("its mt_plugin_info has no register function");
  return NULL;
}

static gboolean
registry_register_info (MtRegistry *reg, const MtPluginInfo *info, const char *origin, GError **error)
{
  reg->current_origin = origin;
  gboolean ok = info->register_nodes (reg, error);
  reg->current_origin = "built-in";
  return ok;
}

/* Plugins linked into the program, registered before main by their constructors. */
#define MAX_STATIC_PLUGINS 16
static const MtPluginInfo *static_plugins[MAX_STATIC_PLUGINS];
static guint n_static_plugins;

void
mt_plugin_register_static (const MtPluginInfo *info)
{
  g_return_if_fail (info != NULL && n_static_plugins < MAX_STATIC_PLUGINS);
  static_plugins[n_static_plugins++] = info;
}

MtRegistry *
mt_registry_get_default (void)
{
  static gsize once = 0;
  static MtRegistry *reg;
  if (g_once_init_enter (&once)) {
    reg = mt_registry_new ();
    for (guint i = 0; i < n_static_plugins; i++) {
      g_autoptr (GError) error = NULL;
      g_autofree char *why = registry_check_info (static_plugins[i]);
      if (why || !registry_register_info (reg, static_plugins[i], "built-in", &error))
        g_error ("the built-in plugin %s: %s", static_plugins[i]->name, why ? why : error->message);
    }
    g_once_init_leave (&once, 1);
  }
  return reg;
}

gboolean
mt_registry_register (MtRegistry *reg, const char *name, GType type, GError **error)
{
  g_return_val_if_fail (reg != NULL && name != NULL, FALSE);
  if (!mt_name_is_valid (name)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID,
                 "'%s' is not a valid node type name (letters, digits and '_')", name);
    return FALSE;
  }
  if (!g_type_is_a (type, MT_TYPE_NODE) || G_TYPE_IS_ABSTRACT (type)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID,
                 "cannot register '%s': %s is not a concrete MtNode subclass", name, g_type_name (type));
    return FALSE;
  }
  if (g_hash_table_contains (reg->types, name)) {
    g_set_error (error, MT_ERROR, MT_ERROR_INVALID, "node type '%s' is already registered by %s",
                 name, (char *) g_hash_table_lookup (reg->origins, name));
    return FALSE;
  }
  g_hash_table_insert (reg->types, g_strdup (name), GSIZE_TO_POINTER (type));
  g_hash_table_insert (reg->origins, g_strdup (name), g_strdup (reg->current_origin));
  return TRUE;
}

GType
mt_registry_lookup_locked (MtRegistry *reg, const char *name)
{
  return GPOINTER_TO_SIZE (g_hash_table_lookup (reg->types, name));
}

GType
mt_registry_lookup (MtRegistry *reg, const char *name)
{
  g_return_val_if_fail (reg != NULL && name != NULL, 0);
  g_mutex_lock (&reg->lock);
  GType t = GPOINTER_TO_SIZE (g_hash_table_lookup (reg->types, name));
  g_mutex_unlock (&reg->lock);
  return t;
}

const char *
mt_registry_get_origin (MtRegistry *reg, const char *name)
{
  g_return_val_if_fail (reg != NULL && name != NULL, NULL);
  return g_hash_table_lookup (reg->origins, name);
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

const char **
mt_registry_list (MtRegistry *reg)
{
  g_return_val_if_fail (reg != NULL, NULL);
  guint n = 0;
  const char **names = (const char **) g_hash_table_get_keys_as_array (reg->types, &n);
  qsort (names, n, sizeof (char *), cmp_str);
  return names;
}

static gboolean
reject (MtRegistry *reg, const char *path, GError **error, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
reject (MtRegistry *reg, const char *path, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  MtPluginRejection *r = g_new0 (MtPluginRejection, 1);
  r->path = g_strdup (path);
  r->reason = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, MT_ERROR, MT_ERROR_PLUGIN, "plugin %s rejected: %s", path, r->reason);
  g_ptr_array_add (reg->rejected, r);
  return FALSE;
}

gboolean
mt_registry_load_plugin (MtRegistry *reg, const char *path, GError **error)
{
  g_return_val_if_fail (reg != NULL, FALSE);
  g_autofree char *canon = g_canonicalize_filename (path, NULL);
  g_autoptr (GError) rerr = NULL;
  GModule *module = NULL;
  gpointer sym = NULL;
  const MtPluginInfo *info = NULL;
  g_autofree char *why = NULL;
  g_autofree char *scan_why = NULL;
  g_mutex_lock (&reg->lock);
  gboolean ok = FALSE;
  if (g_hash_table_contains (reg->seen, canon)) {
    ok = TRUE;  /* the same file named twice in the path is loaded once */
    goto out;
  }
  g_hash_table_add (reg->seen, g_strdup (canon));

  /* Scanned out of process first: a plugin that crashes or exits while loading is
   * rejected with what happened and never loaded here. */
  if (!mt_plugin_scan_check (reg, canon, &scan_why)) {
    reject (reg, canon, error, "%s", scan_why);
    goto out;
  }

  /* Local binding keeps two plugins' private symbols apart. */
  module = g_module_open (canon, G_MODULE_BIND_LOCAL);
  if (!module) {
    reject (reg, canon, error, "cannot load: %s", g_module_error ());
    goto out;
  }
  if (!g_module_symbol (module, MT_PLUGIN_SYMBOL, &sym) || !sym) {
    g_module_close (module);
    reject (reg, canon, error, "no '%s' symbol: not a masktune plugin (use MT_PLUGIN_DEFINE)",
            MT_PLUGIN_SYMBOL);
    goto out;
  }
  info = sym;
  why = registry_check_info (info);
  if (why) {
    g_module_close (module);  /* after the check: info lives in the module */
    reject (reg, canon, error, "%s", why);
    goto out;
  }
  /* Node GTypes are static types: the module must never be unloaded. */
  g_module_make_resident (module);
  if (!registry_register_info (reg, info, canon, &rerr)) {
    reject (reg, canon, error, "registration failed: %s", rerr ? rerr->message : "unknown error");
    goto out;
  }
  ok = TRUE;
  g_ptr_array_add (reg->plugins, g_strdup (canon));
out:
  g_mutex_unlock (&reg->lock);
  return ok;
}

guint
mt_registry_load_path (MtRegistry *reg, const char *dirs)
{
  g_return_val_if_fail (reg != NULL, 0);
  if (!dirs || !*dirs)
    return 0;
  g_auto (GStrv) parts = g_strsplit (dirs, G_SEARCHPATH_SEPARATOR_S, -1);
  guint loaded = 0;
  for (guint i = 0; parts[i]; i++) {
    if (!*parts[i])
      continue;
    g_autoptr (GDir) dir = g_dir_open (parts[i], 0, NULL);
    if (!dir)
      continue;
    g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
    const char *name;
    while ((name = g_dir_read_name (dir)))
      if (g_str_has_suffix (name, "." G_MODULE_SUFFIX))
        g_ptr_array_add (files, g_build_filename (parts[i], name, NULL));
    g_ptr_array_sort (files, cmp_str);  /* deterministic load order */
    for (guint j = 0; j < files->len; j++)
      if (mt_registry_load_plugin (reg, files->pdata[j], NULL))
        loaded++;
  }
  return loaded;
}

GPtrArray *
mt_registry_get_rejected (MtRegistry *reg)
{
  g_return_val_if_fail (reg != NULL, NULL);
  return reg->rejected;
}

GPtrArray *
mt_registry_get_plugins (MtRegistry *reg)
{
  g_return_val_if_fail (reg != NULL, NULL);
  return reg->plugins;
}

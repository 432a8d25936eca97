#include "graph/mt-value.h"
#include "runtime/mt-property.h"

#include <math.h>
#include <string.h>

static gboolean
want_int (const MtAstValue *v, char **message)
{
  if (v->kind == MT_AST_INT)
    return TRUE;
  *message = g_strdup_printf ("expected an integer, found %s", mt_ast_value_kind_name (v->kind));
  return FALSE;
}

/* Sets an integer-like GValue, refusing values that do not fit its C type. */
static gboolean
set_int_value (GValue *out, GType t, gint64 i, char **message)
{
  switch (G_TYPE_FUNDAMENTAL (t)) {
  case G_TYPE_INT:
    if (i < G_MININT || i > G_MAXINT) goto range;
    g_value_set_int (out, (int) i);
    return TRUE;
  case G_TYPE_UINT:
    if (i < 0 || (guint64) i > G_MAXUINT) goto range;
    g_value_set_uint (out, (guint) i);
    return TRUE;
  case G_TYPE_LONG:
    if (i < G_MINLONG || i > G_MAXLONG) goto range;
    g_value_set_long (out, (long) i);
    return TRUE;
  case G_TYPE_ULONG:
    if (i < 0) goto range;
    g_value_set_ulong (out, (gulong) i);
    return TRUE;
  case G_TYPE_INT64:
    g_value_set_int64 (out, i);
    return TRUE;
  case G_TYPE_UINT64:
    if (i < 0) goto range;
    g_value_set_uint64 (out, (guint64) i);
    return TRUE;
  default:
    g_assert_not_reached ();
  }
range:
  *message = g_strdup_printf ("%" G_GINT64_FORMAT " does not fit the property's type", i);
  return FALSE;
}

static GVariant *
list_to_variant (const MtAstValue *v, const GVariantType *vt, char **message)
{
  const GVariantType *elem = g_variant_type_element (vt);
  g_autoptr (GVariantBuilder) b = g_variant_builder_new (vt);
  for (guint k = 0; k < v->items->len; k++) {
    const MtAstValue *item = v->items->pdata[k];
    if (g_variant_type_equal (elem, G_VARIANT_TYPE_INT64) || g_variant_type_equal (elem, G_VARIANT_TYPE_INT32)) {
      if (item->kind != MT_AST_INT) {
        *message = g_strdup_printf ("list item %u: expected an integer, found %s", k + 1,
                                    mt_ast_value_kind_name (item->kind));
        return NULL;
      }
      if (g_variant_type_equal (elem, G_VARIANT_TYPE_INT32)) {
        if (item->i < G_MININT32 || item->i > G_MAXINT32) {
          *message = g_strdup_printf ("list item %u: %" G_GINT64_FORMAT " does not fit 32 bits", k + 1, item->i);
          return NULL;
        }
        g_variant_builder_add (b, "i", (gint32) item->i);
      } else {
        g_variant_builder_add (b, "x", item->i);
      }
    } else if (g_variant_type_equal (elem, G_VARIANT_TYPE_DOUBLE)) {
      if (item->kind != MT_AST_INT && item->kind != MT_AST_FLOAT) {
        *message = g_strdup_printf ("list item %u: expected a number, found %s", k + 1,
                                    mt_ast_value_kind_name (item->kind));
        return NULL;
      }
      g_variant_builder_add (b, "d", item->d);
    } else if (g_variant_type_equal (elem, G_VARIANT_TYPE_STRING)) {
      if (item->kind != MT_AST_STRING) {
        *message = g_strdup_printf ("list item %u: expected a string, found %s", k + 1,
                                    mt_ast_value_kind_name (item->kind));
        return NULL;
      }
      g_variant_builder_add (b, "s", item->s);
    } else {
      *message = g_strdup ("unsupported list property type");
      return NULL;
    }
  }
  return g_variant_builder_end (b);
}

gboolean
mt_value_from_ast (const MtAstValue *v, GParamSpec *pspec, GValue *out, char **message)
{
  GType t = G_PARAM_SPEC_VALUE_TYPE (pspec);
  g_value_init (out, t);
  switch (G_TYPE_FUNDAMENTAL (t)) {
  case G_TYPE_BOOLEAN:
    if (v->kind != MT_AST_BOOL) {
      *message = g_strdup_printf ("expected true or false, found %s", mt_ast_value_kind_name (v->kind));
      goto fail;
    }
    g_value_set_boolean (out, v->b);
    break;
  case G_TYPE_INT: case G_TYPE_UINT: case G_TYPE_LONG: case G_TYPE_ULONG:
  case G_TYPE_INT64: case G_TYPE_UINT64:
    if (!want_int (v, message) || !set_int_value (out, t, v->i, message))
      goto fail;
    break;
  case G_TYPE_FLOAT: case G_TYPE_DOUBLE:
    if (v->kind != MT_AST_INT && v->kind != MT_AST_FLOAT) {
      *message = g_strdup_printf ("expected a number, found %s", mt_ast_value_kind_name (v->kind));
      goto fail;
    }
    if (G_TYPE_FUNDAMENTAL (t) == G_TYPE_FLOAT)
      g_value_set_float (out, (float) v->d);
    else
      g_value_set_double (out, v->d);
    if (!isfinite (v->d)) {
      *message = g_strdup ("the number is not finite");
      goto fail;
    }
    break;
  case G_TYPE_STRING:
    if (v->kind != MT_AST_STRING) {
      *message = g_strdup_printf ("expected a string, found %s", mt_ast_value_kind_name (v->kind));
      goto fail;
    }
    g_value_set_string (out, v->s);
    break;
  case G_TYPE_ENUM: {
    GEnumClass *ec = G_PARAM_SPEC_ENUM (pspec)->enum_class;
    if (v->kind != MT_AST_STRING) {
      g_autofree char *r = mt_property_describe_range (pspec);
      *message = g_strdup_printf ("expected a quoted name, %s", r);
      goto fail;
    }
    GEnumValue *ev = g_enum_get_value_by_nick (ec, v->s);
    if (!ev) {
      g_autofree char *r = mt_property_describe_range (pspec);
      *message = g_strdup_printf ("'%s' is not a valid value; expected %s", v->s, r);
      goto fail;
    }
    g_value_set_enum (out, ev->value);
    break;
  }
  case G_TYPE_VARIANT: {
    const GVariantType *vt = G_PARAM_SPEC_VARIANT (pspec)->type;
    if (v->kind != MT_AST_LIST || !g_variant_type_is_array (vt)) {
      *message = g_strdup_printf ("expected a list, found %s", mt_ast_value_kind_name (v->kind));
      goto fail;
    }
    GVariant *var = list_to_variant (v, vt, message);
    if (!var)
      goto fail;
    g_value_set_variant (out, var);
    break;
  }
  case G_TYPE_BOXED:
    if (t == G_TYPE_STRV) {
      if (v->kind != MT_AST_LIST) {
        *message = g_strdup_printf ("expected a list of strings, found %s", mt_ast_value_kind_name (v->kind));
        goto fail;
      }
      g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
      for (guint k = 0; k < v->items->len; k++) {
        const MtAstValue *item = v->items->pdata[k];
        if (item->kind != MT_AST_STRING) {
          *message = g_strdup_printf ("list item %u: expected a string, found %s", k + 1,
                                      mt_ast_value_kind_name (item->kind));
          goto fail;
        }
        g_strv_builder_add (b, item->s);
      }
      g_value_take_boxed (out, g_strv_builder_end (b));
      break;
    }
    G_GNUC_FALLTHROUGH;
  default:
    *message = g_strdup_printf ("properties of type %s cannot be set from a .pipe file", g_type_name (t));
    goto fail;
  }

  /* g_param_value_validate clamps and reports whether it had to: for us that is an error. */
  {
    GValue probe = G_VALUE_INIT;
    g_value_init (&probe, t);
    g_value_copy (out, &probe);
    gboolean changed = g_param_value_validate (pspec, &probe);
    g_value_unset (&probe);
    if (changed) {
      g_autofree char *shown = mt_ast_value_to_string (v);
      g_autofree char *r = mt_property_describe_range (pspec);
      *message = r ? g_strdup_printf ("%s is out of range (%s)", shown, r)
                   : g_strdup_printf ("%s is not a valid value", shown);
      goto fail;
    }
  }
  return TRUE;

fail:
  g_value_unset (out);
  return FALSE;
}


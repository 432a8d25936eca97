/* Error domain shared by every masktune module. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MT_ERROR (mt_error_quark ())

typedef enum {
  MT_ERROR_FAILED,     /* generic failure */
  MT_ERROR_PARSE,      /* a .pipe file or a command-line value is malformed */
  MT_ERROR_FORMAT,     /* a data file (npy, safetensors, png, manifest) is malformed */
  MT_ERROR_IO,         /* reading or writing failed */
  MT_ERROR_CACHE,      /* a cache entry is missing, corrupt or locked */
  MT_ERROR_NODE,       /* a node's run failed */
  MT_ERROR_PLUGIN,     /* a plugin was rejected */
  MT_ERROR_INVALID,    /* an argument is out of its domain */
  MT_ERROR_CANCELLED,  /* the run was cancelled */
  MT_ERROR_UNSUPPORTED,  /* this build or machine cannot do it (no CUDA device, ...) */
} MtErrorCode;

GQuark mt_error_quark (void);

G_END_DECLS

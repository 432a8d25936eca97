/* The built-in nodes, registered as a plugin linked into libmasktune. */
#include "runtime/mt-plugin.h"
#include "nodes/mt-biaser.h"
#include "nodes/mt-mnist.h"
#include "nodes/mt-npy-file.h"
#include "nodes/mt-preview.h"
#include "nodes/mt-trainer.h"
#include "nodes/mt-xgradcam.h"
#include "nodes/mt-masker.h"
#include "nodes/mt-evaluator.h"
#include "nodes/mt-model-file.h"
#include "nodes/mt-predict.h"
#include "nodes/mt-image-folder.h"
#include "nodes/mt-waterbirds.h"
#include "nodes/mt-celeba.h"
#include "nodes/mt-image-table.h"
#include "nodes/mt-resize.h"

static gboolean
builtins_register (MtRegistry *reg, GError **error)
{
  const struct {
    const char *name;
    GType (*get_type) (void);
  } builtins[] = {
    { "npy_file", mt_npy_file_get_type },
    { "mnist", mt_mnist_get_type },
    { "biaser", mt_biaser_get_type },
    { "preview", mt_preview_get_type },
    { "trainer", mt_trainer_get_type },
    { "finetuner", mt_finetuner_get_type },
    { "xgradcam", mt_xgradcam_get_type },
    { "masker", mt_masker_get_type },
    { "evaluator", mt_evaluator_get_type },
    { "model_file", mt_model_file_get_type },
    { "predict", mt_predict_get_type },
    { "image_folder", mt_image_folder_get_type },
    { "waterbirds", mt_waterbirds_get_type },
    { "celeba", mt_celeba_get_type },
    { "image_table", mt_image_table_get_type },
    { "resize", mt_resize_get_type },
  };
  for (guint i = 0; i < G_N_ELEMENTS (builtins); i++)
    if (!mt_registry_register (reg, builtins[i].name, builtins[i].get_type (), error))
      return FALSE;
  return TRUE;
}

static const MtPluginInfo builtins_info = {
  MT_PLUGIN_ABI_VERSION, "masktune-builtins", "The nodes masktune ships", MT_VERSION_STRING, builtins_register,
};

/* Runs when libmasktune is loaded, so the default registry finds the built-ins without
 * the runtime naming them. */
__attribute__ ((constructor)) static void
builtins_init (void)
{
  mt_plugin_register_static (&builtins_info);
}

#include "mt-builtins.h"
#include "mt-biaser.h"
#include "mt-mnist.h"
#include "mt-npy-file.h"
#include "mt-preview.h"
#include "mt-trainer.h"
#include "mt-xgradcam.h"
#include "mt-masker.h"
#include "mt-evaluator.h"

void
mt_builtins_register (MtRegistry *reg)
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
  };
  for (guint i = 0; i < G_N_ELEMENTS (builtins); i++) {
    g_autoptr (GError) error = NULL;
    if (!mt_registry_register (reg, builtins[i].name, builtins[i].get_type (), &error))
      g_error ("registering built-in nodes: %s", error->message);
  }
}

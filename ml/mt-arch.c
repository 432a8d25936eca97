/* The architectures: MaskTune's SmallCNN, torchvision's ResNets and the CIFAR ResNets of
 * the official code, written as layer lists with torchvision's (and the reference
 * module's) state_dict names, so weights load strictly both ways. */
#include "ml/mt-model.h"

#include <string.h>

/* The official MaskTune MNIST model. */
static const MtLayerSpec small_cnn_layers[] = {
  { MT_LAYER_CONV2D, "backbone.0", 16, 3 }, { MT_LAYER_BATCHNORM2D, "backbone.1" },
  { MT_LAYER_RELU, "backbone.2" },
  { MT_LAYER_CONV2D, "backbone.3", 16, 3 }, { MT_LAYER_BATCHNORM2D, "backbone.4" },
  { MT_LAYER_RELU, "backbone.5" }, { MT_LAYER_MAXPOOL2, "backbone.6" },
  { MT_LAYER_CONV2D, "backbone.7", 32, 3 }, { MT_LAYER_BATCHNORM2D, "backbone.8" },
  { MT_LAYER_RELU, "backbone.9" },
  { MT_LAYER_CONV2D, "backbone.10", 32, 3 }, { MT_LAYER_BATCHNORM2D, "backbone.11" },
  { MT_LAYER_RELU, "backbone.12" }, { MT_LAYER_MAXPOOL2, "backbone.13" },
  { MT_LAYER_FLATTEN, "backbone.14" },
  { MT_LAYER_LINEAR, "linear.0", 256 }, { MT_LAYER_BATCHNORM1D, "linear.1" },
  { MT_LAYER_RELU, "linear.2" }, { MT_LAYER_LINEAR, "linear.3", 0 },
};

/* Names live as long as the process: interned, built once. */
static const char *
nm (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static const char *
nm (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return g_intern_string (s);
}

static void
push (GArray *a, MtLayerSpec l)
{
  g_array_append_val (a, l);
}

/* conv (no bias) + batch norm, named as torchvision names them. */
static void
conv_bn (GArray *a, const char *conv, const char *bn, int out, int k, int stride, int pad, const char *from)
{
  push (a, (MtLayerSpec) { MT_LAYER_CONV2D, conv, out, k, stride, pad, TRUE, from });
  push (a, (MtLayerSpec) { MT_LAYER_BATCHNORM2D, bn });
}

/* torchvision.models.resnet: BasicBlock (expansion 1) or Bottleneck (expansion 4, the
 * stride on the 3x3 conv, as torchvision >= 0.3). A block's output is the layer named
 * after the block ("layer2.1"); a stage's ("layer4") is its last block's. */
static MtLayerSpec *
torchvision_resnet (const int blocks[4], gboolean bottleneck, int *n)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (MtLayerSpec));
  conv_bn (a, "conv1", "bn1", 64, 7, 2, 3, NULL);
  push (a, (MtLayerSpec) { MT_LAYER_RELU, "relu" });
  push (a, (MtLayerSpec) { MT_LAYER_MAXPOOL, "maxpool", 0, 3, 2, 1 });
  const char *prev = "maxpool";
  int in = 64, expansion = bottleneck ? 4 : 1;
  for (int stage = 0; stage < 4; stage++) {
    int planes = 64 << stage;
    for (int b = 0; b < blocks[stage]; b++) {
      int stride = b == 0 && stage > 0 ? 2 : 1, out = planes * expansion;
      const char *blk = nm ("layer%d.%d", stage + 1, b);
      if (bottleneck) {
        conv_bn (a, nm ("%s.conv1", blk), nm ("%s.bn1", blk), planes, 1, 1, 0, prev);
        push (a, (MtLayerSpec) { MT_LAYER_RELU, nm ("%s.relu1", blk) });
        conv_bn (a, nm ("%s.conv2", blk), nm ("%s.bn2", blk), planes, 3, stride, 1, NULL);
        push (a, (MtLayerSpec) { MT_LAYER_RELU, nm ("%s.relu2", blk) });
        conv_bn (a, nm ("%s.conv3", blk), nm ("%s.bn3", blk), out, 1, 1, 0, NULL);
      } else {
        conv_bn (a, nm ("%s.conv1", blk), nm ("%s.bn1", blk), planes, 3, stride, 1, prev);
        push (a, (MtLayerSpec) { MT_LAYER_RELU, nm ("%s.relu1", blk) });
        conv_bn (a, nm ("%s.conv2", blk), nm ("%s.bn2", blk), out, 3, 1, 1, NULL);
      }
      const char *main_path = nm ("%s.%s", blk, bottleneck ? "bn3" : "bn2");
      const char *shortcut = prev;
      if (stride != 1 || in != out) {
        conv_bn (a, nm ("%s.downsample.0", blk), nm ("%s.downsample.1", blk), out, 1, stride, 0, prev);
        shortcut = nm ("%s.downsample.1", blk);
      }
      push (a, (MtLayerSpec) { MT_LAYER_ADD, nm ("%s.add", blk), .from = main_path, .other = shortcut });
      push (a, (MtLayerSpec) { MT_LAYER_RELU, blk });
      prev = blk;
      in = out;
    }
  }
  push (a, (MtLayerSpec) { MT_LAYER_AVGPOOL, "avgpool" });
  push (a, (MtLayerSpec) { MT_LAYER_FLATTEN, "flatten" });
  push (a, (MtLayerSpec) { MT_LAYER_LINEAR, "fc", 0 });
  *n = (int) a->len;
  return (MtLayerSpec *) g_array_free (a, FALSE);
}

/* The CIFAR ResNets of the official MaskTune code (He et al. 2016, section 4.2, as in
 * akamaster/pytorch_resnet_cifar10): 3 stages of n BasicBlocks with 16, 32, 64 planes,
 * option-A shortcuts (subsample, zero channels), global pooling, "linear". */
static MtLayerSpec *
cifar_resnet (int n_blocks, int *n)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (MtLayerSpec));
  conv_bn (a, "conv1", "bn1", 16, 3, 1, 1, NULL);
  push (a, (MtLayerSpec) { MT_LAYER_RELU, "relu" });
  const char *prev = "relu";
  int in = 16;
  for (int stage = 0; stage < 3; stage++) {
    int planes = 16 << stage;
    for (int b = 0; b < n_blocks; b++) {
      int stride = b == 0 && stage > 0 ? 2 : 1;
      const char *blk = nm ("layer%d.%d", stage + 1, b);
      conv_bn (a, nm ("%s.conv1", blk), nm ("%s.bn1", blk), planes, 3, stride, 1, prev);
      push (a, (MtLayerSpec) { MT_LAYER_RELU, nm ("%s.relu1", blk) });
      conv_bn (a, nm ("%s.conv2", blk), nm ("%s.bn2", blk), planes, 3, 1, 1, NULL);
      const char *shortcut = prev;
      if (stride != 1 || in != planes) {
        push (a, (MtLayerSpec) { MT_LAYER_SHORTCUT, nm ("%s.shortcut", blk), planes, .stride = stride, .from = prev });
        shortcut = nm ("%s.shortcut", blk);
      }
      push (a, (MtLayerSpec) { MT_LAYER_ADD, nm ("%s.add", blk), .from = nm ("%s.bn2", blk), .other = shortcut });
      push (a, (MtLayerSpec) { MT_LAYER_RELU, blk });
      prev = blk;
      in = planes;
    }
  }
  push (a, (MtLayerSpec) { MT_LAYER_AVGPOOL, "avgpool" });
  push (a, (MtLayerSpec) { MT_LAYER_FLATTEN, "flatten" });
  push (a, (MtLayerSpec) { MT_LAYER_LINEAR, "linear", 0 });
  *n = (int) a->len;
  return (MtLayerSpec *) g_array_free (a, FALSE);
}

static const char *const arch_names[] = {
  "small_cnn", "resnet18", "resnet34", "resnet50", "resnet20", "resnet32", "resnet56", NULL
};

static MtArch archs[G_N_ELEMENTS (arch_names) - 1];

static gpointer
build_archs (gpointer unused)
{
  archs[0] = (MtArch) { "small_cnn", 3, 28, 28, small_cnn_layers, G_N_ELEMENTS (small_cnn_layers), "backbone.12",
                        FALSE, MT_INIT_TORCH_DEFAULT };
  static const int r18[4] = { 2, 2, 2, 2 }, r34[4] = { 3, 4, 6, 3 };
  const struct { const char *name; const int *blocks; gboolean bottleneck; } tv[] = {
    { "resnet18", r18, FALSE }, { "resnet34", r34, FALSE }, { "resnet50", r34, TRUE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (tv); i++) {
    int n = 0;
    MtLayerSpec *layers = torchvision_resnet (tv[i].blocks, tv[i].bottleneck, &n);
    archs[1 + i] = (MtArch) { tv[i].name, 3, 224, 224, layers, n, "layer4", TRUE, MT_INIT_TORCHVISION };
  }
  const struct { const char *name; int blocks; } cifar[] = { { "resnet20", 3 }, { "resnet32", 5 }, { "resnet56", 9 } };
  for (guint i = 0; i < G_N_ELEMENTS (cifar); i++) {
    int n = 0;
    MtLayerSpec *layers = cifar_resnet (cifar[i].blocks, &n);
    archs[4 + i] = (MtArch) { cifar[i].name, 3, 32, 32, layers, n, "layer3", TRUE, MT_INIT_CIFAR_RESNET };
  }
  return NULL;
}

const MtArch *
mt_arch_lookup (const char *name)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, build_archs, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (archs); i++)
    if (g_strcmp0 (archs[i].name, name) == 0)
      return &archs[i];
  return NULL;
}

const char *const *
mt_arch_names (void)
{
  return arch_names;
}

/* Models as data: an architecture is a list of layers, so new ones need no new code in
 * the trainer. Weights are exchanged as bundles whose tensor names and shapes are those
 * of the equivalent PyTorch module's state_dict. */
#pragma once

#include "base/mt-bundle.h"
#include "ml/mt-backend.h"

G_BEGIN_DECLS

typedef enum {
  MT_LAYER_CONV2D,
  MT_LAYER_BATCHNORM2D,
  MT_LAYER_BATCHNORM1D,
  MT_LAYER_RELU,
  MT_LAYER_MAXPOOL2,
  MT_LAYER_FLATTEN,
  MT_LAYER_LINEAR,
  MT_LAYER_MAXPOOL,    /* k x k window, stride, padding */
  MT_LAYER_AVGPOOL,    /* global average pooling: C x 1 x 1 */
  MT_LAYER_ADD,        /* input + other: a residual block's join */
  MT_LAYER_SHORTCUT,   /* the CIFAR ResNets' option-A shortcut to `out` channels */
} MtLayerKind;

/* One layer of an architecture. Layers run in order; each reads the previous layer's
 * output unless @from names another (a residual block's shortcut reads the block input),
 * so an architecture is a graph of blocks written as a list. */
typedef struct {
  MtLayerKind kind;
  const char *name;   /* state_dict prefix, e.g. "backbone.0", "layer1.0.conv1" */
  int out;            /* conv, shortcut: output channels; linear: features (0 = the number of classes) */
  int k;              /* conv, maxpool: kernel size */
  int stride;         /* conv, maxpool, shortcut: 0 means 1 */
  int pad;            /* conv, maxpool */
  gboolean no_bias;   /* conv: no bias term (the ResNets') */
  const char *from;   /* the input: this layer's output; NULL: the previous layer's; "": the image */
  const char *other;  /* add: the second operand */
} MtLayerSpec;

/* How a new model's weights are drawn, as the reference code of each family does. */
typedef enum {
  MT_INIT_TORCH_DEFAULT,   /* nn.Conv2d/nn.Linear defaults: Kaiming-uniform, a = sqrt(5) */
  MT_INIT_TORCHVISION,     /* torchvision ResNets: convs Kaiming-normal (fan_out, relu), fc default */
  MT_INIT_CIFAR_RESNET,    /* the CIFAR ResNets: convs and linear Kaiming-normal (fan_in) */
} MtInit;

typedef struct {
  const char *name;             /* "small_cnn", "resnet18" */
  int in_c, in_h, in_w;         /* the input image a new model takes by default */
  const MtLayerSpec *layers;
  int n_layers;
  const char *target_layer;     /* saliency maps are taken at this layer's output by default */
  gboolean any_size;            /* global pooling: any input size that leaves 1 x 1 or more */
  MtInit init;
} MtArch;

const MtArch *mt_arch_lookup (const char *name);
/* NULL-terminated list of architecture names. */
const char *const *mt_arch_names (void);

typedef struct _MtModel MtModel;

typedef struct {
  char *name;       /* "backbone.0.weight" */
  float *data;
  float *grad;
  gsize len;
  gsize offset;     /* in mt_model_flat_params' span, where there is one */
} MtParam;

/* A model for @arch's default input size. */
MtModel      *mt_model_new       (const MtArch *arch, int num_classes);
/* A model for @c x @h x @w images (any size for an any_size architecture, else only its
 * own); NULL with @error when the size does not fit. */
MtModel      *mt_model_new_sized (const MtArch *arch, int num_classes, int c, int h, int w, GError **error);
/* A new model of @m's architecture, classes and input size (weights not copied). */
MtModel      *mt_model_new_like  (MtModel *m);
/* The input size the model was made for. */
void          mt_model_input_size (MtModel *m, int *c, int *h, int *w);
void          mt_model_free      (MtModel *m);
/* PyTorch's default initialisation (Kaiming-uniform with a = sqrt(5), uniform biases
 * within 1/sqrt(fan_in); batch norm 1 and 0), drawn from @seed. */
void          mt_model_init      (MtModel *m, guint64 seed);
const MtArch *mt_model_arch      (MtModel *m);
/* The backend that runs the model's ops: the process-wide CPU backend for a new model. */
MtBackend    *mt_model_get_backend (MtModel *m);
/* Moves the model onto @be (kept alive by the caller while the model uses it): its
 * weights, buffers and the gradients its ops write then live in @be's memory, and so do
 * every pointer the model takes or gives (inputs, logits, gradients, activations, each
 * MtParam's data and grad). The state_dict (mt_model_to_bundle, copy_weights) is read
 * and written through the host copy, kept in step where needed. FALSE with @error,
 * the model unchanged, when @be lacks an op the architecture needs. */
gboolean      mt_model_set_backend (MtModel *m, MtBackend *be, GError **error);
/* TRUE when @be has every op @m's layers need; else @error names the first missing. */
gboolean      mt_model_can_run_on  (MtModel *m, MtBackend *be, GError **error);
int           mt_model_num_classes (MtModel *m);

/* Logits [n, classes] for uint8-free float input [n, C, H, W]; the returned buffer
 * belongs to the model until the next forward. Like every tensor the functions below
 * take and give, both are in the backend's memory (mt_model_set_backend). */
const float  *mt_model_forward   (MtModel *m, const float *x, int n, gboolean training);
/* What a training-mode forward keeps on the host (each batch norm's num_batches_tracked),
 * for a forward whose ops ran from a recording (ml/mt-step-graph.h) instead. */
void          mt_model_count_train_forward (MtModel *m);
/* Gradients of the last forward's output (d loss / d logits) into every MtParam's grad,
 * and into @dinput [n, C, H, W] when not NULL. */
void          mt_model_backward  (MtModel *m, const float *dlogits, float *dinput);
/* Back-propagates @dlogits only down to the output of layer @layer and returns the
 * gradient there [n, c, h, w] (owned by the model): what saliency methods need, without
 * the cost of the layers below. Parameter gradients above @layer are overwritten, or
 * (linear layers) not computed. */
const float  *mt_model_backward_to (MtModel *m, const float *dlogits, const char *layer);
/* Like backward, but from @dy at the output of layer @layer (for saliency maps). */
gboolean      mt_model_backward_from (MtModel *m, const char *layer, const float *dy, float *dinput);
/* Runs the layers above @layer on @activation (its output, [n, c, h, w]) in the mode of
 * the last forward; returns the logits. For probing a layer's influence (tests,
 * saliency checks). */
const float  *mt_model_forward_from (MtModel *m, const char *layer, const float *activation, int n);
/* A layer's output of the last forward, as NCHW whatever the backend's layout (then a
 * copy, valid until the next call), and its per-sample shape. @layer is a layer's name
 * or a stage's ("layer4": the output of its last block, as Grad-CAM code names it).
 * NULL (the shape still given) for a batch norm fused with the ReLU after it, which has
 * no output of its own; so too backward_to, forward_from and backward_from refuse one:
 * ask for it with mt_model_keep_output() first. */
const float  *mt_model_activation (MtModel *m, const char *layer, int *c, int *h, int *w);
/* TRUE when @layer (as above) names a layer of @m. */
gboolean      mt_model_has_layer  (MtModel *m, const char *layer);
/* Keeps @layer's output and the gradient there (a batch norm is then not fused with its
 * ReLU) from the next forward on; FALSE when there is no such layer. */
gboolean      mt_model_keep_output (MtModel *m, const char *layer);

/* Benchmarks: while set, each layer's forward and backward wall time (CPU; a GPU
 * backend's ops are asynchronous) is added, in seconds, to @fwd[i] and @bwd[i], arrays of
 * the architecture's n_layers. NULL, NULL stops. */
void          mt_model_profile (MtModel *m, double *fwd, double *bwd);

/* Frees the activation and gradient buffers (the next forward makes them again): a model
 * kept beside others after its pass (the evaluator's) then holds only its weights. */
void          mt_model_release_buffers (MtModel *m);

/* Checks that images of @shape ([N, C, H, W], mt_dataset_images_shape) are the model's input shape. */
gboolean      mt_model_check_images (MtModel *m, const gint64 shape[4], GError **error);
/* Makes *@m take images of @shape: unchanged when it does, replaced by a copy for their
 * size when the architecture takes any size (weights do not depend on it), else an error. */
gboolean      mt_model_fit (MtModel **m, const gint64 shape[4], GError **error);

/* The input transform a model was trained with, kept in its weights' metadata
 * ("input_mean", "input_std"): x = (pixel / 255 - mean[c]) / std[c]. Default: mean 0,
 * std 1. The ImageNet-pretrained ResNets use MT_IMAGENET_MEAN/STD. */
#define MT_IMAGENET_MEAN { 0.485, 0.456, 0.406 }
#define MT_IMAGENET_STD  { 0.229, 0.224, 0.225 }
void          mt_model_set_normalization (MtModel *m, const double mean[3], const double std[3]);
gboolean      mt_model_is_normalized     (MtModel *m);
void          mt_model_copy_normalization (MtModel *dst, MtModel *src);
/* @n uint8 images [n, C, H, W] (the model's size) into its float input @x. */
void          mt_model_prepare_input (MtModel *m, const guint8 *pixels, gsize n, float *x);
/* How mt_model_prepare_input makes the input of uint8 images (a device's gather_batch
 * makes it the same way). */
void          mt_model_input_spec (MtModel *m, MtInputSpec *s);
/* The same into a buffer of the model's in its backend's memory, returned for
 * mt_model_forward (valid until the next call; on the CPU no copy is made). */
const float  *mt_model_load_input (MtModel *m, const guint8 *pixels, gsize n);

guint         mt_model_n_params  (MtModel *m);
/* On a device backend every parameter's data and grad lie in one span each, of @len
 * floats, at MtParam.offset (the floats between them stay zero): an elementwise optimizer
 * updates them all with one op. FALSE on a host backend, where the weights are the
 * state_dict's own tensors. */
gboolean      mt_model_flat_params (MtModel *m, float **data, float **grad, gsize *len);
MtParam      *mt_model_param     (MtModel *m, guint i);

/* The state_dict: parameters and buffers with PyTorch's names, plus metadata "arch",
 * "num_classes", "input_size" ("3x224x224"). */
MtBundle     *mt_model_to_bundle   (MtModel *m);
/* Rebuilds a model from such a bundle; names, dtypes and shapes must match exactly. */
MtModel      *mt_model_from_bundle (MtBundle *b, const char *what, GError **error);
/* A model of @arch for @c x @h x @w images (0: the architecture's default) from a PyTorch
 * state_dict without masktune's metadata (torchvision's weights, saved as safetensors):
 * the class count is read from the classifier's shape; every tensor must match, strictly
 * as load_state_dict(strict=True) checks. */
MtModel      *mt_model_from_state_dict (MtBundle *b, const MtArch *arch, int c, int h, int w, const char *what,
                                        GError **error);
/* Copies the weights and buffers of @src (same architecture) into @dst. */
void          mt_model_copy_weights (MtModel *dst, MtModel *src);
/* Copies every tensor of @src whose name and shape @dst has (a pretrained backbone into
 * a model with another classifier); returns how many of @dst's it left as they were. */
guint         mt_model_copy_matching (MtModel *dst, MtModel *src);

/* ---- batch-slice threading (ml/mt-slices.h) ---- */
/* A model that runs a slice of @m's batches: @m's weights, buffers and running statistics
 * (read, never written: @m's own slice updates the statistics), its own activations and
 * gradients. */
MtModel      *mt_model_new_replica (MtModel *m);
/* While @share is set, the model's training-mode batch norms are slices of a batch
 * (mt-backend.h: MtBnShare); NULL: whole batches again. */
void          mt_model_set_share   (MtModel *m, MtBnShare *share);
/* The doubles per image a share's tables need for @m (twice its widest batch norm). */
gsize         mt_model_share_width (MtModel *m);
/* Adds the gradients of @slices[1..n) to those of @slices[0] (the model; the others its
 * replicas), slice after slice: part @part of @parts of each parameter's elements, so
 * that @parts threads can share the work, the sums' order fixed. Batch norm's gradients
 * are the whole batch's in every slice already: kept as they are. */
void          mt_model_sum_gradients (MtModel *const *slices, int n, int part, int parts);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtModel, mt_model_free)

G_END_DECLS

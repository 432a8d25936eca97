/* The CUDA backend's runtime side: is there a usable GPU, which backend a run uses, and
 * the element-wise kernels (ReLU, pooling, cross-entropy, SGD, XGradCAM's reductions,
 * resizing, masking, uint8 conversion), compiled at run time with NVRTC and cached on
 * disk by the digest of their source and options.
 *
 * Built only with the CUDA toolkit (configure finds it); without it every query says
 * so and the CPU backend runs. NVRTC needs no GPU, so the kernels are compiled (and
 * their compilation tested) on any machine with the toolkit. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE when a CUDA device can be used; otherwise @error says why (no driver, no device,
 * or a build without CUDA). @description: "NVIDIA H100 (sm_90, 79 GiB)". */
gboolean    mt_cuda_probe (char **description, GError **error);

/* The kernels' CUDA C++ source, and the names of its kernels (NULL-terminated). */
const char         *mt_cuda_kernel_source (void);
const char *const  *mt_cuda_kernel_names  (void);
/* Compiles the kernels for @arch ("sm_90") with NVRTC and returns PTX. With @cache_dir,
 * a PTX compiled before for the same source, options and NVRTC version is reused. */
char       *mt_cuda_compile_kernels (const char *arch, const char *cache_dir, GError **error);

/* The compiled kernels, loaded on the current device (needs a GPU). */
typedef struct _MtCudaKernels MtCudaKernels;
MtCudaKernels *mt_cuda_kernels_load (const char *ptx, GError **error);
void           mt_cuda_kernels_free (MtCudaKernels *k);
/* Launches kernel @name with @args (pointers to each argument, as cudaLaunchKernel
 * takes them) on @stream (NULL: the default stream): @blocks blocks of @threads, or
 * with @blocks 0 enough 256-thread blocks to cover @n items (grid-stride kernels). */
gboolean       mt_cuda_launch (MtCudaKernels *k, const char *name, gsize n, guint blocks, guint threads,
                               void **args, gpointer stream, GError **error);

/* The grid a launch with @blocks 0 gets: enough 256-thread blocks to cover @n items, at
 * least one, at most 524,280 (grid-stride kernels loop over the rest). */
void           mt_cuda_grid_size (gsize n, guint *blocks, guint *threads);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtCudaKernels, mt_cuda_kernels_free)

G_END_DECLS

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

/* The real architectures this NVRTC compiles for ("sm_75", ..., NULL-terminated; empty
 * without CUDA). */
char      **mt_cuda_supported_archs (void);
/* The kernels compiled to machine code for the real @arch ("sm_90"); @report: ptxas'
 * resource report (registers, stack, spills per kernel). */
GBytes     *mt_cuda_compile_cubin (const char *arch, char **report, GError **error);
/* The kernels of a ptxas report that spill registers, "NAME: S bytes spill stores, L bytes
 * spill loads; ...", or NULL when none does. */
char       *mt_cuda_report_spills (const char *report);
/* What a GPU of compute capability @major.@minor runs: a cubin for its own architecture
 * when @supported has it (*@cubin TRUE), else PTX for the newest older one (the driver
 * compiles it); an error for a GPU older than all of @supported. */
char       *mt_cuda_choose_code (int major, int minor, const char *const *supported, gboolean *cubin,
                                 GError **error);
/* The kernels for such a GPU, as mt_cuda_choose_code() chose; @what: "cubin for sm_90".
 * With @cache_dir, what was compiled before for the same source, target, NVRTC and
 * options is reused (a cached file whose target or kernels are not all there is compiled
 * again and replaced); @refresh compiles anew and replaces it. */
GBytes     *mt_cuda_build_kernels (int major, int minor, const char *cache_dir, gboolean refresh, char **what,
                                   GError **error);
/* Where the compiled kernels are kept: $MT_KERNEL_CACHE (empty: nowhere, NULL), else
 * $XDG_CACHE_HOME/masktune. */
char       *mt_cuda_kernel_cache_dir (void);

/* The compiled kernels (a cubin or PTX), loaded on the current device (needs a GPU). */
typedef struct _MtCudaKernels MtCudaKernels;
MtCudaKernels *mt_cuda_kernels_load (const void *image, GError **error);
void           mt_cuda_kernels_free (MtCudaKernels *k);
/* Launches kernel @name with @args (pointers to each argument, as cudaLaunchKernel
 * takes them) on @stream (NULL: the default stream): @blocks blocks of @threads, or
 * with @blocks 0 enough 256-thread blocks to cover @n items (grid-stride kernels). */
gboolean       mt_cuda_launch (MtCudaKernels *k, const char *name, gsize n, guint blocks, guint threads,
                               void **args, gpointer stream, GError **error);

/* TRUE with MT_CUDA_SYNC=1: each launch waits for its kernel (and nothing is recorded
 * into CUDA graphs, which forbid waiting). */
gboolean       mt_cuda_sync_each_launch (void);

/* The grid a launch with @blocks 0 gets: enough 256-thread blocks to cover @n items, at
 * least one, at most 524,280 (grid-stride kernels loop over the rest). */
void           mt_cuda_grid_size (gsize n, guint *blocks, guint *threads);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MtCudaKernels, mt_cuda_kernels_free)

G_END_DECLS

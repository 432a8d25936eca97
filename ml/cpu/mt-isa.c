/* Picks the instruction set of the blocked ops once, and the public names of those ops
 * (mt-ops.h) call that set's copy. */
#include "config.h"
#include "ml/cpu/mt-isa.h"
#include "ml/cpu/mt-ops.h"

static gint isa = -1;

static gboolean
cpu_has (MtCpuIsa want)
{
  switch (want) {
  case MT_CPU_ISA_GENERIC:
    return TRUE;
  case MT_CPU_ISA_AVX2:
#if defined(MT_HAVE_AVX2_OPS) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init ();
    return __builtin_cpu_supports ("avx2");
#else
    return FALSE;
#endif
  }
  return FALSE;
}

MtCpuIsa
mt_cpu_isa (void)
{
  gint cur = g_atomic_int_get (&isa);
  if (cur >= 0)
    return (MtCpuIsa) cur;
  MtCpuIsa pick = cpu_has (MT_CPU_ISA_AVX2) && g_strcmp0 (g_getenv ("MT_CPU_ISA"), "generic") != 0
                  ? MT_CPU_ISA_AVX2 : MT_CPU_ISA_GENERIC;
  g_atomic_int_set (&isa, (gint) pick);
  return pick;
}

const char *
mt_cpu_isa_name (MtCpuIsa i)
{
  return i == MT_CPU_ISA_AVX2 ? "avx2" : "generic";
}

gboolean
mt_cpu_set_isa (MtCpuIsa want)
{
  if (!cpu_has (want))
    return FALSE;
  g_atomic_int_set (&isa, (gint) want);
  return TRUE;
}

/* The copies' declarations, once per instruction set. */
#include "ml/cpu/mt-ops-blocked.h"
#ifdef MT_HAVE_AVX2_OPS
#undef MT_ISA
#define MT_ISA avx2
#include "ml/cpu/mt-ops-blocked.h"
#define PICK(name) (mt_cpu_isa () == MT_CPU_ISA_AVX2 ? name##_avx2 : name##_generic)
#else
#define PICK(name) name##_generic
#endif

/* One public op: the call through the chosen copy. */
#define DISPATCH(name, params, args) \
  void name params { PICK (name) args; }

DISPATCH (mt_cpu_batchnorm_blocked_forward_train,
          (const MtBnSpec *s, MtBnShare *share, const float *x, int n, int c, int hw, const float *gamma,
           const float *beta, gboolean relu, float *y, float *save_mean, float *save_invstd, float *running_mean,
           float *running_var),
          (s, share, x, n, c, hw, gamma, beta, relu, y, save_mean, save_invstd, running_mean, running_var))
DISPATCH (mt_cpu_batchnorm_blocked_forward_eval,
          (const MtBnSpec *s, const float *x, int n, int c, int hw, const float *gamma, const float *beta,
           gboolean relu, float *y, const float *running_mean, const float *running_var),
          (s, x, n, c, hw, gamma, beta, relu, y, running_mean, running_var))
DISPATCH (mt_cpu_batchnorm_blocked_backward_train,
          (MtBnShare *share, const float *x, int n, int c, int hw, const float *gamma, const float *save_mean,
           const float *save_invstd, const float *y, const float *dy, float *dx, float *dgamma, float *dbeta),
          (share, x, n, c, hw, gamma, save_mean, save_invstd, y, dy, dx, dgamma, dbeta))
DISPATCH (mt_cpu_batchnorm_blocked_backward_eval,
          (const MtBnSpec *s, int n, int c, int hw, const float *gamma, const float *running_var, const float *y,
           const float *dy, float *dx),
          (s, n, c, hw, gamma, running_var, y, dy, dx))
DISPATCH (mt_cpu_maxpool2_blocked_forward,
          (const float *x, int n, int c, int h, int w, float *y, gint32 *argmax), (x, n, c, h, w, y, argmax))
DISPATCH (mt_cpu_maxpool2_blocked_backward,
          (const gint32 *argmax, int n, int c, int h, int w, const float *dy, float *dx),
          (argmax, n, c, h, w, dy, dx))
DISPATCH (mt_cpu_maxpool_blocked_forward,
          (const MtPoolSpec *s, const float *x, int n, int c, int h, int w, float *y, gint32 *argmax),
          (s, x, n, c, h, w, y, argmax))
DISPATCH (mt_cpu_maxpool_blocked_backward,
          (const MtPoolSpec *s, const gint32 *argmax, int n, int c, int h, int w, const float *dy, float *dx),
          (s, argmax, n, c, h, w, dy, dx))
DISPATCH (mt_cpu_avgpool_blocked_forward, (const float *x, int n, int c, int hw, float *y), (x, n, c, hw, y))
DISPATCH (mt_cpu_avgpool_blocked_backward, (const float *dy, int n, int c, int hw, float *dx), (dy, n, c, hw, dx))
DISPATCH (mt_cpu_shortcut_layout_forward,
          (const float *x, int n, int c, int h, int w, int out_c, int stride, float *y),
          (x, n, c, h, w, out_c, stride, y))
DISPATCH (mt_cpu_shortcut_layout_backward,
          (const float *dy, int n, int c, int h, int w, int out_c, int stride, float *dx),
          (dy, n, c, h, w, out_c, stride, dx))

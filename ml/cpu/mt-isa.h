/* The CPU's instruction sets: the blocked ops (one AVX register per nChw8c pixel) are
 * compiled twice, for the x86-64 baseline and with AVX2 (mt-op-*-blocked.c, built once
 * per MT_ISA), and mt-isa.c calls the best one this CPU runs. Both compile without FMA
 * contraction, so they round alike and a result does not depend on which one ran. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#ifndef MT_ISA
#define MT_ISA generic
#endif
#define MT_ISA_CAT2(f, isa) f##_##isa
#define MT_ISA_CAT(f, isa) MT_ISA_CAT2 (f, isa)
/* The name of @f in this compilation's instruction set: f_generic, f_avx2. */
#define MT_ISA_NAME(f) MT_ISA_CAT (f, MT_ISA)

typedef enum {
  MT_CPU_ISA_GENERIC,
  MT_CPU_ISA_AVX2,
} MtCpuIsa;

/* The instruction set the ops use: the best this CPU and build have, unless
 * $MT_CPU_ISA=generic asks for the baseline. */
MtCpuIsa    mt_cpu_isa       (void);
const char *mt_cpu_isa_name  (MtCpuIsa isa);
/* Tests: run the ops with @isa (FALSE when this CPU or build cannot). */
gboolean    mt_cpu_set_isa   (MtCpuIsa isa);

G_END_DECLS

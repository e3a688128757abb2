// cpu.h: the fast cpu backend's functions (OpenMP + OpenBLAS).
#ifndef HYLAB_CPU_H
#define HYLAB_CPU_H
#include "kernels/cpu_ref/cpu_ref.h"
#endif

/* Stand-in for the CUDA toolkit's <cuda_fp16.h> under host emulation: everything the
 * generated code may use of it is in cuda_emu.h (see there). */
#include "../cuda_emu.h"

/* Calibration samples on disk (samples.c): listing them and reading one. */
#ifndef LATHE_DRIVER_SAMPLES_H
#define LATHE_DRIVER_SAMPLES_H

#include <stddef.h>

#include "lathe/lathe.h"

typedef struct samples {
  char **paths; /* a folder of NAME.npy, or an .npz archive, per sample */
  size_t count;
} samples_t;

/* The samples at `path`, in name order; at least one. */
lathe_status_t samples_list(const char *path, samples_t *out_samples);
void samples_free(samples_t *samples);
/* Reads input k of one sample, named names[k], into out_tensors[k] (owned:
 * lathe_tensor_free each). */
lathe_status_t samples_read(const char *sample, uint32_t num_inputs, const char *const *names,
                            lathe_rt_tensor_t *out_tensors);

#endif

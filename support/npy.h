/* NumPy .npy files: the array format tests, tools and calibration data use.
 *
 * Format (numpy.lib.format, versions 1.0 to 3.0): the magic "\x93NUMPY", a
 * major and minor version byte, the header length (2 bytes little-endian in
 * 1.0, 4 bytes in 2.0 and 3.0), then a Python dict literal
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 64), }
 * padded with spaces to a 64-byte boundary and ended by '\n', then the data
 * in C order. Supported element types are the runtime's dtypes that numpy
 * has (f16 f32 f64, i8..i64, u8..u64, bool), little-endian or byte-sized;
 * big-endian and Fortran-order arrays are refused with a clear message
 * rather than converted.
 *
 * Dtypes are the runtime's codes (LATHE_RT_DTYPE_*, include/lathe/runtime.h),
 * which equal the IR's lathe_dtype_t. Errors are one line naming the file.
 */
#ifndef LATHE_SUPPORT_NPY_H
#define LATHE_SUPPORT_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "support/status.h"

#define LATHE_NPY_MAX_RANK 16

typedef struct lathe_npy_header {
  int32_t dtype; /* LATHE_RT_DTYPE_* */
  uint32_t rank;
  int64_t dims[LATHE_NPY_MAX_RANK];
  uint64_t data_offset; /* where the data starts */
  uint64_t num_bytes;   /* element count * element size */
} lathe_npy_header_t;

/* Parses the header of an .npy image of `size` bytes at `bytes` and checks
 * that the data it announces is there. `name` is used in messages. */
lathe_status_t lathe_npy_parse(const uint8_t *bytes, uint64_t size, const char *name,
                               lathe_npy_header_t *out_header);

/* Reads `path`: its header and a malloc'd copy of its data (the caller
 * frees; at least one byte is allocated, so *out_data is never NULL). */
lathe_status_t lathe_npy_read(const char *path, lathe_npy_header_t *out_header, void **out_data);

/* Writes a C-order array as an .npy 1.0 file. */
lathe_status_t lathe_npy_write(const char *path, int32_t dtype, uint32_t rank, const int64_t *dims,
                               const void *data, uint64_t num_bytes);

#endif

/* The frontend library's API: model files in, graph IR out.
 *
 * One header per format lives in its subfolder; this one gathers them so
 * tools include a single file:
 *   safetensors/  weight files (reader, writer, sharded checkpoints, and the
 *                 weight-source opener the text-IR parser takes)
 *   onnx/         ONNX models (lathe_onnx_import_file)
 *   hf/           Hugging Face model folders (lathe_hf_import)
 */
#ifndef LATHE_FRONTEND_FRONTEND_H
#define LATHE_FRONTEND_FRONTEND_H

#include "frontend/hf/hf_import.h"
#include "frontend/onnx/onnx_import.h"
#include "frontend/safetensors/safetensors.h"

#endif

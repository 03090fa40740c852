/* The textual IR: printer and parser. print(parse(x)) == x byte for byte for
 * canonical input (see docs/ir.md for the grammar and the canonical layout).
 */
#ifndef LATHE_IR_TEXT_H
#define LATHE_IR_TEXT_H

#include "ir/ir.h"

typedef struct lathe_parse_options {
  /* Opens `weights "PATH"` sources; NULL makes such a declaration an error. */
  lathe_weight_source_opener_t open_weight_source;
  void *opener_ctx;
  /* Skip running the verifier after parsing (for tools that verify later). */
  int skip_verify;
} lathe_parse_options_t;

/* Parses `len` bytes of text IR. `filename` is used in diagnostics and to
 * resolve relative weight paths. On success *out_module is a new module the
 * caller owns; on failure the status reads "file:line:col: error: ...". */
lathe_status_t lathe_module_parse(const char *text, size_t len, const char *filename,
                                  const lathe_parse_options_t *options,
                                  lathe_module_t **out_module);
/* Reads and parses a file ("-" is stdin). */
lathe_status_t lathe_module_parse_file(const char *path, const lathe_parse_options_t *options,
                                       lathe_module_t **out_module);

/* Appends the canonical text of the module / one graph. */
void lathe_module_print(lathe_strbuf_t *sb, const lathe_module_t *module);
void lathe_graph_print(lathe_strbuf_t *sb, const lathe_graph_t *graph);
/* Writes the module's text to a stream. */
void lathe_module_dump(FILE *out, const lathe_module_t *module);

#endif

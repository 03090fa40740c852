/* lathe-opt: text IR in, pass pipeline, text IR out. The driver behind the lit
 * tests and the first debugging tool: every pass is testable as
 *     lathe-opt --passes=cse in.lir | FileCheck in.lir
 * Exit status: 0 on success, 1 on any error (one line on stderr), 2 on a usage
 * error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "ir/text.h"
#include "ir/verify.h"
#include "kernel/kernel.h"
#include "passes/passes.h"

static const char usage[] =
    "usage: lathe-opt [options] [FILE]\n"
    "\n"
    "Reads text IR from FILE (or stdin when FILE is absent or '-'), runs a pass\n"
    "pipeline over it and prints the result.\n"
    "\n"
    "options:\n"
    "  --passes=PIPELINE       comma-separated passes, e.g. 'canonicalize,cse,dce'\n"
    "  --print-ir-after=PASSES print the IR after each named pass (comma-separated)\n"
    "  --print-ir-after-all    print the IR after every pass\n"
    "  --time-passes           print how long each pass took\n"
    "  --split-input-file      treat '// -----' lines as separators between inputs\n"
    "  --no-verify             don't verify the IR after each pass\n"
    "  --lower                 after the passes, lower the first graph and print\n"
    "                          its kernel program instead of the graph IR\n"
    "  -o FILE                 write the output to FILE instead of stdout\n"
    "  --list-passes           list the registered passes and their options\n"
    "  -h, --help              show this help\n";

typedef struct {
  const char *input;
  const char *output;
  const char *pipeline;
  int split_input;
  int lower;
  lathe_pipeline_config_t config;
} options_t;

static const char *flag_value(const char *arg, const char *flag) {
  size_t n = strlen(flag);
  return strncmp(arg, flag, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

/* Returns 0 to continue, or the exit code to stop with. */
static int parse_args(int argc, char **argv, options_t *o) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return -1;
    } else if (!strcmp(a, "--list-passes")) {
      lathe_pass_print_help(stdout);
      return -1;
    } else if ((v = flag_value(a, "--passes"))) {
      o->pipeline = v;
    } else if ((v = flag_value(a, "--print-ir-after"))) {
      o->config.print_ir_after = v;
    } else if (!strcmp(a, "--print-ir-after-all")) {
      o->config.print_ir_after_all = 1;
    } else if (!strcmp(a, "--time-passes")) {
      o->config.time_passes = 1;
    } else if (!strcmp(a, "--split-input-file")) {
      o->split_input = 1;
    } else if (!strcmp(a, "--lower")) {
      o->lower = 1;
    } else if (!strcmp(a, "--no-verify")) {
      o->config.skip_verify = 1;
    } else if (!strcmp(a, "-o") && i + 1 < argc) {
      o->output = argv[++i];
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "lathe-opt: error: unknown option '%s' (see --help)\n", a);
      return 2;
    } else if (o->input) {
      fprintf(stderr, "lathe-opt: error: more than one input file ('%s' and '%s')\n", o->input, a);
      return 2;
    } else {
      o->input = a;
    }
  }
  if (!o->input) o->input = "-";
  return 0;
}

static lathe_status_t read_all(const char *path, char **out_text, size_t *out_len) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot open '%s'", path);
  lathe_strbuf_t sb;
  lathe_strbuf_init(&sb);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) lathe_strbuf_append_n(&sb, buf, n);
  int err = ferror(f);
  if (f != stdin) fclose(f);
  if (err) {
    lathe_strbuf_destroy(&sb);
    return lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot read '%s'", path);
  }
  *out_len = sb.len;
  *out_text = lathe_strbuf_release(&sb);
  return NULL;
}

/* --lower: the kernel program of the module's first graph. */
static lathe_status_t print_lowered(const lathe_module_t *m, lathe_strbuf_t *out) {
  const lathe_graph_t *g = lathe_module_first_graph(m);
  if (!g) return lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "--lower: the input has no graph");
  lathe_kprogram_t *p = NULL;
  LATHE_RETURN_IF_ERROR(lathe_kernel_lower_graph(g, &p));
  lathe_kprogram_print(out, p);
  lathe_kprogram_destroy(p);
  return NULL;
}

/* Parses one chunk, runs the pipeline and appends the printed result. Line
 * numbers in diagnostics stay those of the whole file: the chunk is padded
 * with the newlines that precede it. */
static lathe_status_t process_chunk(const options_t *o, const lathe_pipeline_t *pipeline,
                                    const char *text, size_t len, lathe_strbuf_t *out) {
  lathe_module_t *m = NULL;
  const char *name = strcmp(o->input, "-") ? o->input : "<stdin>";
  /* `weights "x.safetensors"` (or a sharded index) opens through the frontend. */
  const lathe_parse_options_t parse_options = {
      .open_weight_source = lathe_safetensors_open_weight_source};
  LATHE_RETURN_IF_ERROR(lathe_module_parse(text, len, name, &parse_options, &m));
  lathe_status_t st = lathe_pipeline_run(pipeline, m, &o->config);
  if (!st && o->lower) st = print_lowered(m, out);
  else if (!st) lathe_module_print(out, m);
  lathe_module_destroy(m);
  return st;
}

static const char split_marker[] = "// -----";

/* Finds the next separator line at or after `from`; returns its start or NULL. */
static const char *find_separator(const char *from, const char *end) {
  for (const char *p = from; p < end;) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = eol ? eol : end;
    if ((size_t)(line_end - p) >= sizeof split_marker - 1 &&
        memcmp(p, split_marker, sizeof split_marker - 1) == 0)
      return p;
    p = eol ? eol + 1 : end;
  }
  return NULL;
}

static lathe_status_t run(const options_t *o, const lathe_pipeline_t *pipeline,
                          lathe_strbuf_t *out) {
  char *text;
  size_t len;
  LATHE_RETURN_IF_ERROR(read_all(o->input, &text, &len));
  lathe_status_t st = NULL;
  if (!o->split_input) {
    st = process_chunk(o, pipeline, text, len, out);
  } else {
    /* Like mlir-opt: a failing chunk reports its error and the rest still
     * run, so one negative lit test can hold many cases. */
    lathe_strbuf_t chunk;
    lathe_strbuf_init(&chunk);
    const char *p = text, *end = text + len;
    unsigned failed = 0, total = 0;
    for (int first = 1;; first = 0) {
      const char *sep = find_separator(p, end);
      const char *chunk_end = sep ? sep : end;
      /* Keep line numbers: replace the preceding text by its newlines. */
      lathe_strbuf_destroy(&chunk);
      for (const char *q = text; q < p; ++q)
        if (*q == '\n') lathe_strbuf_putc(&chunk, '\n');
      lathe_strbuf_append_n(&chunk, p, (size_t)(chunk_end - p));
      if (!first) lathe_strbuf_append(out, "// -----\n");
      lathe_status_t chunk_st = process_chunk(o, pipeline, lathe_strbuf_cstr(&chunk), chunk.len, out);
      ++total;
      if (chunk_st) {
        lathe_status_print(stderr, "lathe-opt", chunk_st);
        lathe_status_free(chunk_st);
        ++failed;
      }
      if (!sep) break;
      const char *eol = memchr(sep, '\n', (size_t)(end - sep));
      p = eol ? eol + 1 : end;
    }
    lathe_strbuf_destroy(&chunk);
    if (failed)
      st = lathe_status_make(LATHE_STATUS_INVALID_ARGUMENT, "%u of %u split inputs failed", failed,
                             total);
  }
  free(text);
  return st;
}

int main(int argc, char **argv) {
  options_t o = {0};
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc < 0 ? 0 : rc;

  lathe_pipeline_t *pipeline = NULL;
  lathe_status_t st = lathe_pipeline_parse(o.pipeline ? o.pipeline : "", &pipeline);
  lathe_strbuf_t out;
  lathe_strbuf_init(&out);
  if (!st) st = run(&o, pipeline, &out);
  if (!st) {
    FILE *f = o.output ? fopen(o.output, "wb") : stdout;
    if (!f) st = lathe_status_make(LATHE_STATUS_IO_ERROR, "cannot write '%s'", o.output);
    else {
      fwrite(out.data ? out.data : "", 1, out.len, f);
      if (f != stdout) fclose(f);
    }
  }
  lathe_strbuf_destroy(&out);
  lathe_pipeline_destroy(pipeline);
  if (st) {
    lathe_status_print(stderr, "lathe-opt", st);
    lathe_status_free(st);
    return 1;
  }
  return 0;
}

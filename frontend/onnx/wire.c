/* The protobuf wire-format pre-pass that keeps ONNX weights uncopied.
 *
 * protobuf-c copies every `bytes` field while unpacking (ProtobufCBinaryData
 * gets its own allocation), so unpacking a 2 GB model straight from its
 * mapping would duplicate every weight. Instead this file walks the wire
 * format of the mapped ModelProto once and re-encodes it without the raw_data
 * payloads of graph initializers (ModelProto.graph=7 -> GraphProto.initializer
 * =5 -> TensorProto.raw_data=9) and of node attribute tensors (GraphProto.node
 * =1 -> NodeProto.attribute=5 -> AttributeProto.t=5 -> raw_data=9). What is
 * left (the skeleton: nodes, names, shapes, small typed fields) is what
 * protobuf-c unpacks; each removed payload is remembered as an (offset,
 * length) in the file, and the importer views those bytes in the mapping.
 *
 * Skipping a payload only advances a pointer, so weight pages are not even
 * touched during import. Repeated fields keep their order through both the
 * re-encoding and protobuf-c, which is how a reference finds its tensor: the
 * k-th initializer, or the k-th attribute counted node by node.
 *
 * Wire format (https://protobuf.dev/programming-guides/encoding/): a field is
 * a varint tag (number << 3 | wire type) then a varint (type 0), 8 bytes (1),
 * a varint length and that many bytes (2) or 4 bytes (5). Groups (3, 4) are
 * not used by ONNX and are refused.
 */
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

typedef enum { L_MODEL, L_GRAPH, L_NODE, L_ATTR, L_TENSOR } level_t;

/* Field numbers from onnx.proto that lead towards raw_data. */
enum {
  MODEL_GRAPH = 7,
  GRAPH_NODE = 1,
  GRAPH_INITIALIZER = 5,
  NODE_ATTRIBUTE = 5,
  ATTR_T = 5,
  TENSOR_RAW_DATA = 9,
};

typedef struct {
  onnx_raw_ref_t *data;
  size_t count, cap;
} refs_t;

typedef struct {
  const uint8_t *base;
  refs_t inits, attrs;
} scan_t;

static bool push_ref(refs_t *r, size_t *out_index) {
  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    onnx_raw_ref_t *d = realloc(r->data, cap * sizeof *d);
    if (!d) return false;
    r->data = d;
    r->cap = cap;
  }
  r->data[r->count] = (onnx_raw_ref_t){0};
  *out_index = r->count++;
  return true;
}

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false; /* more than 10 bytes */
}

static void put_varint(lathe_strbuf_t *out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  do {
    buf[n++] = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  lathe_strbuf_append_n(out, buf, n);
}

static lathe_status_t malformed(const scan_t *s, const uint8_t *at, const char *what) {
  return lathe_status_make(LATHE_STATUS_PARSE_ERROR,
                           "not a valid ONNX model: %s at byte %llu (truncated or corrupt file?)",
                           what, (unsigned long long)(at - s->base));
}

/* The message a length-delimited field holds, when it is on a path towards
 * raw_data; -1 otherwise (the field is copied verbatim). */
static int child_level(level_t level, uint64_t field) {
  switch (level) {
  case L_MODEL: return field == MODEL_GRAPH ? L_GRAPH : -1;
  case L_GRAPH:
    return field == GRAPH_INITIALIZER ? L_TENSOR : field == GRAPH_NODE ? L_NODE : -1;
  case L_NODE: return field == NODE_ATTRIBUTE ? L_ATTR : -1;
  case L_ATTR: return field == ATTR_T ? L_TENSOR : -1;
  case L_TENSOR: return -1;
  }
  return -1;
}

/* Re-encodes the message in [p, end) at `level` into `out`. `ref` is where a
 * TensorProto's raw_data goes (index into `refs`), for L_TENSOR and L_ATTR. */
static lathe_status_t rewrite(scan_t *s, level_t level, const uint8_t *p, const uint8_t *end,
                              refs_t *refs, size_t ref, lathe_strbuf_t *out) {
  while (p < end) {
    const uint8_t *field_start = p;
    uint64_t tag, len = 0;
    if (!read_varint(&p, end, &tag)) return malformed(s, field_start, "bad field tag");
    uint64_t field = tag >> 3;
    unsigned wire = (unsigned)(tag & 7);
    if (field == 0) return malformed(s, field_start, "field number 0");
    const uint8_t *payload = NULL;
    switch (wire) {
    case 0: {
      uint64_t ignored;
      if (!read_varint(&p, end, &ignored)) return malformed(s, field_start, "bad varint");
      break;
    }
    case 1:
    case 5: {
      size_t n = wire == 1 ? 8 : 4;
      if ((size_t)(end - p) < n) return malformed(s, field_start, "truncated fixed-width field");
      p += n;
      break;
    }
    case 2:
      if (!read_varint(&p, end, &len)) return malformed(s, field_start, "bad length");
      if (len > (uint64_t)(end - p)) return malformed(s, field_start, "length past the end");
      payload = p;
      p += len;
      break;
    default: return malformed(s, field_start, "unsupported wire type");
    }

    if (level == L_TENSOR && wire == 2 && field == TENSOR_RAW_DATA && refs) {
      refs->data[ref] = (onnx_raw_ref_t){true, (uint64_t)(payload - s->base), len};
      continue;
    }
    int child = wire == 2 ? child_level(level, field) : -1;
    if (child < 0) {
      lathe_strbuf_append_n(out, (const char *)field_start, (size_t)(p - field_start));
      continue;
    }
    refs_t *child_refs = refs;
    size_t child_ref = ref;
    if (child == L_ATTR || (child == L_TENSOR && level == L_GRAPH)) {
      child_refs = child == L_ATTR ? &s->attrs : &s->inits;
      if (!push_ref(child_refs, &child_ref))
        return lathe_status_make(LATHE_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    lathe_strbuf_t sub;
    lathe_strbuf_init(&sub);
    lathe_status_t st =
        rewrite(s, (level_t)child, payload, payload + len, child_refs, child_ref, &sub);
    if (!st) {
      put_varint(out, tag);
      put_varint(out, sub.len);
      lathe_strbuf_append_n(out, sub.data ? sub.data : "", sub.len);
    }
    lathe_strbuf_destroy(&sub);
    if (st) return st;
  }
  return NULL;
}

lathe_status_t onnx_skeleton_build(const uint8_t *file, uint64_t size, onnx_skeleton_t *out) {
  scan_t s = {.base = file};
  lathe_strbuf_t buf;
  lathe_strbuf_init(&buf);
  lathe_status_t st = rewrite(&s, L_MODEL, file, file + size, NULL, 0, &buf);
  if (st) {
    lathe_strbuf_destroy(&buf);
    free(s.inits.data);
    free(s.attrs.data);
    return st;
  }
  *out = (onnx_skeleton_t){
      .len = buf.len,
      .initializers = s.inits.data,
      .num_initializers = s.inits.count,
      .attributes = s.attrs.data,
      .num_attributes = s.attrs.count,
  };
  out->data = (uint8_t *)lathe_strbuf_release(&buf);
  return NULL;
}

void onnx_skeleton_free(onnx_skeleton_t *s) {
  if (!s) return;
  free(s->data);
  free(s->initializers);
  free(s->attributes);
  *s = (onnx_skeleton_t){0};
}

/* The IR verifier: the invariants every pass must preserve.
 *
 * Checked per graph: the op list ends in exactly one `return`; each op's
 * arity, attributes (known names, right kinds, required ones present) and
 * registry verifier pass; every operand is defined earlier in the same graph;
 * each op's declared result types agree with what inference derives from its
 * operands (lathe_type_consistent: either side may leave a dim unknown `?`,
 * known dims must match; infer-shapes fills in what inference knows); use
 * lists match the operand slots.
 *
 * Errors are located at the offending op ("file:line:col: error: op 'add': ...").
 */
#ifndef LATHE_IR_VERIFY_H
#define LATHE_IR_VERIFY_H

#include "ir/ir.h"

lathe_status_t lathe_graph_verify(const lathe_graph_t *graph);
lathe_status_t lathe_module_verify(const lathe_module_t *module);
/* Checks one op in isolation (arity, attributes, inference, op verifier). */
lathe_status_t lathe_op_verify(const lathe_op_t *op);

#endif

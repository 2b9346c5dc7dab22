/* Error messages and default limits of the OT engine. */
#include "ot_internal.h"

const char *ot_err_str(int err) {
    switch (err) {
    case OT_OK: return "ok";
    case OT_ERR_NOMEM: return "out of memory";
    case OT_ERR_JSON_SYNTAX: return "operation is not well-formed JSON";
    case OT_ERR_NOT_ARRAY: return "operation is not a JSON array";
    case OT_ERR_BAD_COMPONENT: return "operation component is neither an integer nor a string";
    case OT_ERR_ZERO_COUNT: return "retain or delete count of zero";
    case OT_ERR_COUNT_RANGE: return "count is fractional, has an exponent or is out of range";
    case OT_ERR_EMPTY_INSERT: return "empty insert";
    case OT_ERR_BAD_UTF8: return "insert text is not valid UTF-8 or contains NUL";
    case OT_ERR_LONE_SURROGATE: return "lone UTF-16 surrogate escape";
    case OT_ERR_BASE_LENGTH: return "operation base length differs from the document length";
    case OT_ERR_TOO_LARGE: return "operation or document beyond the configured size limits";
    case OT_ERR_TOO_MANY_COMPONENTS: return "operation has too many components";
    case OT_ERR_VERSION_TOO_OLD: return "base version is older than the retained history";
    case OT_ERR_VERSION_AHEAD: return "base version is newer than the document";
    case OT_ERR_RANGE: return "position or count outside the text";
    case OT_ERR_COMPOSE_MISMATCH: return "compose: second operation does not start where the first ends";
    case OT_ERR_TRANSFORM_MISMATCH: return "transform: operations have different base lengths";
    default: return "unknown error";
    }
}

ot_limits ot_limits_default(void) {
    ot_limits limits = {
        .max_doc_codepoints = 16u * 1024u * 1024u,
        .max_op_bytes = 1024u * 1024u,
        .max_op_components = 65536u,
        .history_depth = 1000u,
    };
    return limits;
}

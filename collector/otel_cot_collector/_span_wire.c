/* otel_cot_collector._span_wire: a span record read from an OTLP Span's protobuf wire bytes, in C.

   record(data, keys, max_keys, make) reads `data` (the bytes of one opentelemetry.proto.trace.v1.Span,
   as Span.SerializeToString() gives them) and returns
       make(trace_id_hex, span_id_hex, name, attributes, start_time_unix_nano, end_time_unix_nano,
            parent_span_id_hex or None)
   with the attributes as otel_cot_collector.otlp.attributes_of gives them: the AnyValue kinds mapped as
   otlp.value_of maps them (string, bool, int, double, bytes; an array as a tuple, a kvlist as a dict; an
   unset value as None), later duplicate keys replacing earlier ones, each key replaced by the equal key
   already in the dict `keys` (added there while it holds fewer than `max_keys`, counted once per call).

   It returns None, having built nothing for the caller, for anything it does not read exactly as the
   protobuf runtime would: malformed or truncated wire data, a known field with another wire type, a
   group, an AnyValue with a field number it does not know (a later version of the protocol) or with more
   than one field, a KeyValue with two values, nesting deeper than MAX_DEPTH, a string that is not UTF-8.
   The caller then reads the message through the protobuf API (otel_cot_collector/span_records.py).
   The fields it does not need (trace_state, events, links, status) are skipped by their wire type without
   looking inside: its input is bytes the protobuf runtime has parsed (what a Span message serialized, or
   the bytes a span was received in, which the runtime parsed with its request), not untrusted data.

   valid_spans(data) reads `data` (the bytes of an ExportTraceServiceRequest that the protobuf runtime has
   already parsed without error) and returns the number of spans in it when every span has the ids that
   otel_cot_collector.otlp._bad_span accepts (trace_id 16 bytes and span_id 8, neither all zero,
   parent_span_id empty or 8 bytes; of a field given twice the last counts, as when parsed). It returns
   None when a span's ids are refused or the data is not read exactly (a known field with another wire
   type, a group, truncated data): the caller then checks the parsed request through the protobuf API and
   deletes the spans it refuses (otel_cot_collector/otlp.py). It builds no object but the count.

   span_wires(data) walks the same request the same way and returns each span's payload (the bytes the
   runtime parsed that Span from) in parse order, or None where the walk is not exact; the pipeline exports
   a span no processor changed in those bytes (otel_cot_collector/span_wires.py). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifndef OTEL_COT_SOURCE_SHA256
#define OTEL_COT_SOURCE_SHA256 ""
#endif

#define MAX_DEPTH 64

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

/* Results of the readers: OK, UNREAD (not read exactly: the caller falls back, no exception set) or
   ERROR (a Python exception is set). */
enum { OK = 0, UNREAD = 1, ERROR = -1 };

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} Reader;

static int
read_varint(Reader *r, uint64_t *out)
{
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            return UNREAD;
        }
        uint8_t byte = *r->p++;
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return OK;
        }
    }
    return UNREAD; /* more than ten bytes */
}

static int
read_fixed64(Reader *r, uint64_t *out)
{
    if (r->end - r->p < 8) {
        return UNREAD;
    }
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) {
        value = (value << 8) | r->p[i];
    }
    r->p += 8;
    *out = value;
    return OK;
}

/* A length-delimited payload: its bounds in `field`, `r` moved past it. */
static int
read_len(Reader *r, Reader *field)
{
    uint64_t n;
    if (read_varint(r, &n) != OK || n > (uint64_t)(r->end - r->p)) {
        return UNREAD;
    }
    field->p = r->p;
    field->end = r->p + n;
    r->p += n;
    return OK;
}

static int
read_tag(Reader *r, uint32_t *number, int *wire_type)
{
    uint64_t tag;
    if (read_varint(r, &tag) != OK || tag > UINT32_MAX || (tag >> 3) == 0) {
        return UNREAD;
    }
    *number = (uint32_t)(tag >> 3);
    *wire_type = (int)(tag & 7);
    return OK;
}

/* Past a field this reader does not need. */
static int
skip(Reader *r, int wire_type)
{
    uint64_t ignored;
    Reader field;
    switch (wire_type) {
    case WT_VARINT:
        return read_varint(r, &ignored);
    case WT_I64:
        return read_fixed64(r, &ignored);
    case WT_LEN:
        return read_len(r, &field);
    case WT_I32:
        if (r->end - r->p < 4) {
            return UNREAD;
        }
        r->p += 4;
        return OK;
    default:
        return UNREAD; /* groups: not in OTLP */
    }
}

static PyObject *
utf8(Reader field)
{
    return PyUnicode_DecodeUTF8((const char *)field.p, field.end - field.p, NULL);
}

/* A str from a payload, or UNREAD when it is not UTF-8 (the protobuf runtime does not hold such a string). */
static int
read_str(Reader field, PyObject **out)
{
    *out = utf8(field);
    if (*out != NULL) {
        return OK;
    }
    if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        return UNREAD;
    }
    return ERROR;
}

static PyObject *
hex(Reader field)
{
    static const char digits[] = "0123456789abcdef";
    Py_ssize_t n = field.end - field.p;
    PyObject *out = PyUnicode_New(2 * n, 127);
    if (out == NULL) {
        return NULL;
    }
    Py_UCS1 *data = PyUnicode_1BYTE_DATA(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        data[2 * i] = digits[field.p[i] >> 4];
        data[2 * i + 1] = digits[field.p[i] & 15];
    }
    return out;
}

static int read_any_value(Reader r, int depth, PyObject **out);

/* A KeyValue's fields: its key's payload (empty when absent) and its value's (has_value 0 when absent). */
typedef struct {
    Reader key;
    Reader value;
    int has_value;
} KeyValue;

static int
split_key_value(Reader r, KeyValue *kv)
{
    kv->key.p = kv->key.end = r.p;
    kv->has_value = 0;
    while (r.p < r.end) {
        uint32_t number;
        int wire_type;
        if (read_tag(&r, &number, &wire_type) != OK) {
            return UNREAD;
        }
        if (number == 1 || number == 2) {
            if (wire_type != WT_LEN) {
                return UNREAD;
            }
            if (number == 1) {
                if (read_len(&r, &kv->key) != OK) {
                    return UNREAD;
                }
            }
            else {
                if (kv->has_value || read_len(&r, &kv->value) != OK) {
                    return UNREAD; /* two values merge in protobuf: left to it */
                }
                kv->has_value = 1;
            }
        }
        else if (skip(&r, wire_type) != OK) {
            return UNREAD;
        }
    }
    return OK;
}

/* A KeyValue's value: None when it has none. */
static int
key_value_value(KeyValue *kv, int depth, PyObject **out)
{
    if (!kv->has_value) {
        Py_INCREF(Py_None);
        *out = Py_None;
        return OK;
    }
    return read_any_value(kv->value, depth, out);
}

#define END 2 /* of next_len_field: no further occurrence */

/* Field `wanted` of `r`'s message, one occurrence at a time: OK with `*item` set, END past the last one, or
   UNREAD. Other fields are skipped; field `wanted` with another wire type than LEN is UNREAD. */
static int
next_len_field(Reader *r, uint32_t wanted, Reader *item)
{
    while (r->p < r->end) {
        uint32_t number;
        int wire_type;
        if (read_tag(r, &number, &wire_type) != OK) {
            return UNREAD;
        }
        if (number == wanted) {
            return wire_type == WT_LEN && read_len(r, item) == OK ? OK : UNREAD;
        }
        if (skip(r, wire_type) != OK) {
            return UNREAD;
        }
    }
    return END;
}

/* The repeated field 1 of an ArrayValue (`list` non-NULL) or a KeyValueList (`dict` non-NULL). */
static int
read_values(Reader r, int depth, PyObject *list, PyObject *dict)
{
    Reader item;
    int found;
    while ((found = next_len_field(&r, 1, &item)) == OK) {
        int status;
        if (list != NULL) {
            PyObject *value;
            if ((status = read_any_value(item, depth, &value)) != OK) {
                return status;
            }
            status = PyList_Append(list, value);
            Py_DECREF(value);
        }
        else {
            KeyValue kv;
            PyObject *key, *value;
            if (split_key_value(item, &kv) != OK) {
                return UNREAD;
            }
            if ((status = read_str(kv.key, &key)) != OK) {
                return status;
            }
            if ((status = key_value_value(&kv, depth, &value)) != OK) {
                Py_DECREF(key);
                return status;
            }
            status = PyDict_SetItem(dict, key, value);
            Py_DECREF(key);
            Py_DECREF(value);
        }
        if (status < 0) {
            return ERROR;
        }
    }
    return found == END ? OK : UNREAD;
}

static int
read_any_value(Reader r, int depth, PyObject **out)
{
    if (depth > MAX_DEPTH) {
        return UNREAD;
    }
    if (r.p == r.end) {
        Py_INCREF(Py_None);
        *out = Py_None; /* no kind set */
        return OK;
    }
    uint32_t number;
    int wire_type;
    uint64_t word = 0;
    Reader field = {r.p, r.p};
    if (read_tag(&r, &number, &wire_type) != OK) {
        return UNREAD;
    }
    static const int wire_types[] = {-1, WT_LEN, WT_VARINT, WT_VARINT, WT_I64, WT_LEN, WT_LEN, WT_LEN};
    if (number > 7 || wire_type != wire_types[number]) {
        return UNREAD;
    }
    int status = wire_type == WT_LEN ? read_len(&r, &field)
                 : wire_type == WT_VARINT ? read_varint(&r, &word) : read_fixed64(&r, &word);
    if (status != OK || r.p != r.end) {
        return UNREAD; /* a second field: a oneof's last one wins, or its messages merge; left to protobuf */
    }
    PyObject *value = NULL;
    switch (number) {
    case 1:
        return read_str(field, out);
    case 2:
        value = word ? Py_True : Py_False;
        Py_INCREF(value);
        break;
    case 3:
        value = PyLong_FromLongLong((long long)(int64_t)word);
        break;
    case 4: {
        double d;
        memcpy(&d, &word, sizeof d);
        value = PyFloat_FromDouble(d);
        break;
    }
    case 5: {
        PyObject *list = PyList_New(0);
        if (list == NULL) {
            return ERROR;
        }
        if ((status = read_values(field, depth + 1, list, NULL)) != OK) {
            Py_DECREF(list);
            return status;
        }
        value = PyList_AsTuple(list);
        Py_DECREF(list);
        break;
    }
    case 6: {
        PyObject *dict = PyDict_New();
        if (dict == NULL) {
            return ERROR;
        }
        if ((status = read_values(field, depth + 1, NULL, dict)) != OK) {
            Py_DECREF(dict);
            return status;
        }
        value = dict;
        break;
    }
    case 7:
        value = PyBytes_FromStringAndSize((const char *)field.p, field.end - field.p);
        break;
    }
    if (value == NULL) {
        return ERROR;
    }
    *out = value;
    return OK;
}

/* The last shared keys met, by a hash of their bytes: a key found here (and still the one in `keys`) is
   not decoded and hashed again. Only ASCII keys, whose str data are their UTF-8 bytes. */
#define KEY_CACHE 256
static PyObject *key_cache[KEY_CACHE];

/* The key of `field` as `keys.setdefault(key, key)` gives it when `share`, else `keys.get(key, key)`. */
static int
shared_key(Reader field, PyObject *keys, int share, PyObject **out)
{
    Py_ssize_t n = field.end - field.p;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++) {
        h = (h ^ field.p[i]) * 16777619u;
    }
    PyObject **slot = &key_cache[h % KEY_CACHE];
    PyObject *cached = *slot;
    if (cached != NULL && PyUnicode_GET_LENGTH(cached) == n && memcmp(PyUnicode_DATA(cached), field.p, n) == 0) {
        PyObject *found = PyDict_GetItemWithError(keys, cached);
        if (found == cached) {
            Py_INCREF(cached);
            *out = cached;
            return OK;
        }
        if (found == NULL && PyErr_Occurred()) {
            return ERROR;
        }
    }
    PyObject *key;
    int status = read_str(field, &key);
    if (status != OK) {
        return status;
    }
    PyObject *shared = share ? PyDict_SetDefault(keys, key, key) : PyDict_GetItemWithError(keys, key);
    if (shared == NULL) {
        if (PyErr_Occurred()) {
            Py_DECREF(key);
            return ERROR;
        }
        *out = key; /* not shared: the table is full */
        return OK;
    }
    Py_INCREF(shared);
    Py_DECREF(key);
    if (PyUnicode_IS_COMPACT_ASCII(shared)) {
        Py_INCREF(shared);
        Py_XSETREF(*slot, shared);
    }
    *out = shared;
    return OK;
}

/* One span attribute into `attributes`, its key shared through `keys`. */
static int
add_attribute(Reader item, PyObject *attributes, PyObject *keys, int share)
{
    KeyValue kv;
    PyObject *key, *value;
    if (split_key_value(item, &kv) != OK) {
        return UNREAD;
    }
    int status = shared_key(kv.key, keys, share, &key);
    if (status != OK) {
        return status;
    }
    if ((status = key_value_value(&kv, 0, &value)) != OK) {
        Py_DECREF(key);
        return status;
    }
    status = PyDict_SetItem(attributes, key, value) < 0 ? ERROR : OK;
    Py_DECREF(key);
    Py_DECREF(value);
    return status;
}

static PyObject *
record(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "record(data: bytes, keys: dict, max_keys: int, make)");
        return NULL;
    }
    Py_ssize_t max_keys = PyLong_AsSsize_t(args[2]);
    if (max_keys == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *keys = args[1];
    int share = PyDict_GET_SIZE(keys) < max_keys;
    Reader r = {(const uint8_t *)PyBytes_AS_STRING(args[0]),
                (const uint8_t *)PyBytes_AS_STRING(args[0]) + PyBytes_GET_SIZE(args[0])};
    Reader trace_id = {r.p, r.p}, span_id = {r.p, r.p}, parent_id = {r.p, r.p}, name = {r.p, r.p};
    uint64_t start = 0, end = 0;
    PyObject *attributes = PyDict_New();
    if (attributes == NULL) {
        return NULL;
    }
    int status = OK;
    while (status == OK && r.p < r.end) {
        uint32_t number;
        int wire_type;
        Reader item;
        if (read_tag(&r, &number, &wire_type) != OK) {
            status = UNREAD;
            break;
        }
        switch (number) {
        case 1: /* trace_id */
        case 2: /* span_id */
        case 4: /* parent_span_id */
        case 5: /* name */
        case 9: /* attributes */
            if (wire_type != WT_LEN || read_len(&r, &item) != OK) {
                status = UNREAD;
            }
            else if (number == 1) {
                trace_id = item;
            }
            else if (number == 2) {
                span_id = item;
            }
            else if (number == 4) {
                parent_id = item;
            }
            else if (number == 5) {
                name = item;
            }
            else {
                status = add_attribute(item, attributes, keys, share);
            }
            break;
        case 7: /* start_time_unix_nano */
        case 8: /* end_time_unix_nano */
            if (wire_type != WT_I64 || read_fixed64(&r, number == 7 ? &start : &end) != OK) {
                status = UNREAD;
            }
            break;
        default: /* trace_state, kind, events, links, status, flags, the dropped counts, unknown fields */
            if (skip(&r, wire_type) != OK) {
                status = UNREAD;
            }
        }
    }
    if (status != OK) {
        Py_DECREF(attributes);
        if (status == ERROR) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *fields[7] = {NULL};
    fields[3] = attributes;
    PyObject *out = NULL;
    if ((fields[0] = hex(trace_id)) == NULL || (fields[1] = hex(span_id)) == NULL) {
        goto done;
    }
    if ((status = read_str(name, &fields[2])) != OK) {
        if (status == UNREAD) {
            out = Py_None;
            Py_INCREF(out);
        }
        goto done;
    }
    if ((fields[4] = PyLong_FromUnsignedLongLong(start)) == NULL
        || (fields[5] = PyLong_FromUnsignedLongLong(end)) == NULL) {
        goto done;
    }
    if (parent_id.p == parent_id.end) {
        Py_INCREF(Py_None);
        fields[6] = Py_None;
    }
    else if ((fields[6] = hex(parent_id)) == NULL) {
        goto done;
    }
    out = PyObject_Vectorcall(args[3], fields, 7, NULL);
done:
    for (int i = 0; i < 7; i++) {
        Py_XDECREF(fields[i]);
    }
    return out;
}

/* valid_spans(data): data holds an ExportTraceServiceRequest's wire bytes. */

static int
all_zero(Reader field)
{
    for (const uint8_t *p = field.p; p < field.end; p++) {
        if (*p) {
            return 0;
        }
    }
    return 1;
}

/* OK when the Span in `r` has the ids otel_cot_collector.otlp._bad_span accepts; UNREAD otherwise (an id
   it refuses, or wire data not read exactly). */
static int
span_ids_valid(Reader r)
{
    Reader trace_id = {r.p, r.p}, span_id = {r.p, r.p}, parent_id = {r.p, r.p};
    while (r.p < r.end) {
        uint32_t number;
        int wire_type;
        Reader item;
        if (read_tag(&r, &number, &wire_type) != OK) {
            return UNREAD;
        }
        if (number == 1 || number == 2 || number == 4) { /* trace_id, span_id, parent_span_id */
            if (wire_type != WT_LEN || read_len(&r, &item) != OK) {
                return UNREAD;
            }
            *(number == 1 ? &trace_id : number == 2 ? &span_id : &parent_id) = item; /* the last one counts */
        }
        else if (skip(&r, wire_type) != OK) {
            return UNREAD;
        }
    }
    Py_ssize_t parent_len = parent_id.end - parent_id.p;
    if (trace_id.end - trace_id.p != 16 || span_id.end - span_id.p != 8 || all_zero(trace_id)
        || all_zero(span_id) || (parent_len != 0 && parent_len != 8)) {
        return UNREAD;
    }
    return OK;
}

/* Calls visit(span, context) for each Span payload of the ExportTraceServiceRequest in `data`, in parse
   order: OK when every call returned OK; else the first call's UNREAD or ERROR, or UNREAD when the walk is
   not exact (a resource_spans, scope_spans or spans field with another wire type, a group, truncated data). */
static int
each_span(PyObject *data, int (*visit)(Reader span, void *context), void *context)
{
    Reader request = {(const uint8_t *)PyBytes_AS_STRING(data),
                      (const uint8_t *)PyBytes_AS_STRING(data) + PyBytes_GET_SIZE(data)};
    Reader resource_spans, scope_spans, span;
    int status;
    while ((status = next_len_field(&request, 1, &resource_spans)) == OK) {
        while ((status = next_len_field(&resource_spans, 2, &scope_spans)) == OK) {
            while ((status = next_len_field(&scope_spans, 2, &span)) == OK) {
                int visited = visit(span, context);
                if (visited != OK) {
                    return visited;
                }
            }
            if (status == UNREAD) {
                return UNREAD;
            }
        }
        if (status == UNREAD) {
            return UNREAD;
        }
    }
    return status == UNREAD ? UNREAD : OK;
}

static int
count_valid(Reader span, void *count)
{
    if (span_ids_valid(span) != OK) {
        return UNREAD;
    }
    ++*(Py_ssize_t *)count;
    return OK;
}

static PyObject *
valid_spans(PyObject *module, PyObject *data)
{
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "valid_spans(data: bytes)");
        return NULL;
    }
    Py_ssize_t count = 0;
    if (each_span(data, count_valid, &count) != OK) {
        Py_RETURN_NONE;
    }
    return PyLong_FromSsize_t(count);
}

/* span_wires(data): data holds an ExportTraceServiceRequest's wire bytes that the protobuf runtime has
   parsed. A list of each span's payload (the bytes the runtime parsed that Span from), in parse order, or
   None when the walk is not exact. */
static int
append_bytes(Reader span, void *list)
{
    PyObject *item = PyBytes_FromStringAndSize((const char *)span.p, span.end - span.p);
    if (item == NULL) {
        return ERROR;
    }
    int appended = PyList_Append((PyObject *)list, item);
    Py_DECREF(item);
    return appended < 0 ? ERROR : OK;
}

static PyObject *
span_wires(PyObject *module, PyObject *data)
{
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "span_wires(data: bytes)");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    int status = each_span(data, append_bytes, out);
    if (status == OK) {
        return out;
    }
    Py_DECREF(out);
    if (status == ERROR) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"record", (PyCFunction)(void (*)(void))record, METH_FASTCALL,
     PyDoc_STR("record(data, keys, max_keys, make): make(...) of the Span in `data`, or None when it is "
               "not read exactly here (see the module's source).")},
    {"valid_spans", (PyCFunction)valid_spans, METH_O,
     PyDoc_STR("valid_spans(data): the number of spans in the ExportTraceServiceRequest `data` when every one "
               "has valid ids, or None (one has not, or the data is not read exactly here).")},
    {"span_wires", (PyCFunction)span_wires, METH_O,
     PyDoc_STR("span_wires(data): each span's wire bytes in the ExportTraceServiceRequest `data`, in parse "
               "order, or None when the data is not read exactly here.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "otel_cot_collector._span_wire",
    .m_doc = "Span records read from OTLP protobuf wire bytes in C (see otel_cot_collector/span_records.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__span_wire(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddStringConstant(m, "source_sha256", OTEL_COT_SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

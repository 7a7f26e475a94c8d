/* otel_cot._construct: build an instance of a class from its field values, in C; and the detector views of
   a plain tool-call or reasoning span (ViewMaker, below).

   FieldSetter(cls, names) is a callable; calling it with len(names) positional values makes
   object.__new__(cls) and sets each name to its value in order through the generic attribute setter,
   which is what a frozen dataclass's __init__ does with object.__setattr__ (it bypasses the class's
   __setattr__ the same way). The instance dict is filled key by key in declaration order, so it stays the
   class's key-shared dict: the same memory as an instance made by the class itself. When every name is a
   slot of the class (a writable object member descriptor, as __slots__ and dataclass(slots=True) make),
   the values are stored in the slots directly, which is what the member descriptors' setters do. See
   otel_cot/native.py for when it is used and how the pure-Python path replaces it. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <structmember.h> /* T_OBJECT_EX, READONLY (before Python 3.12's Py_T_OBJECT_EX) */

#ifndef OTEL_COT_SOURCE_SHA256
#define OTEL_COT_SOURCE_SHA256 ""
#endif

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    PyObject *names; /* tuple of str */
    Py_ssize_t *offsets; /* each name's slot offset when every name is a slot, else NULL */
    vectorcallfunc vectorcall;
} FieldSetter;

static PyObject *empty_tuple;

static PyObject *
setter_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FieldSetter *setter = (FieldSetter *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t n = PyTuple_GET_SIZE(setter->names);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) {
        PyErr_SetString(PyExc_TypeError, "FieldSetter takes positional values only");
        return NULL;
    }
    if (nargs != n) {
        PyErr_Format(PyExc_TypeError, "%s: expected %zd field values, got %zd", setter->cls->tp_name, n, nargs);
        return NULL;
    }
    PyObject *obj = PyBaseObject_Type.tp_new(setter->cls, empty_tuple, NULL);
    if (obj == NULL) {
        return NULL;
    }
    if (setter->offsets != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_INCREF(args[i]);
            *(PyObject **)((char *)obj + setter->offsets[i]) = args[i]; /* a new object's slots are all NULL */
        }
        return obj;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_GenericSetAttr(obj, PyTuple_GET_ITEM(setter->names, i), args[i]) < 0) {
            Py_DECREF(obj);
            return NULL;
        }
    }
    return obj;
}

/* The offset of each name's slot in an instance of `cls`, when every name (distinct) is a writable object
   member defined by `cls` itself; NULL otherwise (with an exception set only on an error). */
static Py_ssize_t *
slot_offsets(PyTypeObject *cls, PyObject *names)
{
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    Py_ssize_t *offsets = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    if (offsets == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *descr = PyDict_GetItemWithError(cls->tp_dict, PyTuple_GET_ITEM(names, i));
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyMem_Free(offsets);
            return NULL;
        }
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX || (member->flags & READONLY)
            || !PyType_IsSubtype(cls, ((PyMemberDescrObject *)descr)->d_common.d_type)) {
            PyMem_Free(offsets);
            return NULL;
        }
        for (Py_ssize_t j = 0; j < i; j++) {
            if (offsets[j] == member->offset) { /* a name given twice: left to the generic setter */
                PyMem_Free(offsets);
                return NULL;
            }
        }
        offsets[i] = member->offset;
    }
    return offsets;
}

static PyObject *
setter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *cls, *names;
    static char *kwlist[] = {"cls", "names", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!:FieldSetter", kwlist, &PyType_Type, &cls,
                                     &PyTuple_Type, &names)) {
        return NULL;
    }
    PyTypeObject *target = (PyTypeObject *)cls;
    if (target->tp_new != PyBaseObject_Type.tp_new) {
        PyErr_Format(PyExc_TypeError, "%s has its own __new__", target->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    PyObject *interned = PyTuple_New(n);
    if (interned == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        if (!PyUnicode_CheckExact(name)) {
            Py_DECREF(interned);
            PyErr_SetString(PyExc_TypeError, "field names must be str");
            return NULL;
        }
        Py_INCREF(name);
        PyUnicode_InternInPlace(&name);
        PyTuple_SET_ITEM(interned, i, name);
    }
    Py_ssize_t *offsets = slot_offsets(target, interned);
    if (offsets == NULL && PyErr_Occurred()) {
        Py_DECREF(interned);
        return NULL;
    }
    FieldSetter *self = (FieldSetter *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyMem_Free(offsets);
        Py_DECREF(interned);
        return NULL;
    }
    Py_INCREF(cls);
    self->cls = target;
    self->names = interned;
    self->offsets = offsets;
    self->vectorcall = setter_vectorcall;
    return (PyObject *)self;
}

static int
setter_traverse(FieldSetter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->cls);
    Py_VISIT(self->names);
    return 0;
}

static int
setter_clear(FieldSetter *self)
{
    Py_CLEAR(self->cls);
    Py_CLEAR(self->names);
    return 0;
}

static void
setter_dealloc(FieldSetter *self)
{
    PyObject_GC_UnTrack(self);
    setter_clear(self);
    PyMem_Free(self->offsets);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
setter_repr(FieldSetter *self)
{
    return PyUnicode_FromFormat("<FieldSetter %s %R>", self->cls->tp_name, self->names);
}

static PyObject *
setter_direct(FieldSetter *self, void *closure)
{
    return PyBool_FromLong(self->offsets != NULL);
}

static PyGetSetDef setter_getset[] = {
    {"direct", (getter)setter_direct, NULL, PyDoc_STR("True when the values go straight into the slots"), NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject FieldSetterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otel_cot._construct.FieldSetter",
    .tp_doc = PyDoc_STR("FieldSetter(cls, names): calling it with one value per name makes object.__new__(cls) "
                        "and sets the names in order through the generic attribute setter."),
    .tp_basicsize = sizeof(FieldSetter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = setter_new,
    .tp_dealloc = (destructor)setter_dealloc,
    .tp_traverse = (traverseproc)setter_traverse,
    .tp_clear = (inquiry)setter_clear,
    .tp_repr = (reprfunc)setter_repr,
    .tp_getset = setter_getset,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(FieldSetter, vectorcall),
};

/* ViewMaker(setter, names, kinds, max_chars, window_chars): calling it with a SpanRecord gives
   (views, keys, plain): what otel_cot.detectors.views gives in Python as view_list(record) and
   [dedupe_key(v) for v in views], and whether every attribute value is an exact str of at most
   window_chars characters (the engine's window then keeps the views as they are), for a record whose
   attributes are a dict without message attributes and whose attributes it reads are each absent, None or
   an exact str; for any other record it returns None and builds nothing (the caller then takes the Python
   path). `setter` is the FieldSetter of SpanView; `names` the attribute names (reasoning, input messages,
   output messages, tool name, tool call id, arguments, result, error type); `kinds` (reasoning, tool_call,
   tool_result); `max_chars` is MAX_VIEW_CHARS, `window_chars` WINDOW_ATTRIBUTE_CHARS. Each step mirrors
   a line of views.view_list: keep the two in step (tests/detectors/test_native_views.py compares them). */

enum { N_REASONING, N_INPUT, N_OUTPUT, N_TOOL, N_CALL_ID, N_ARGUMENTS, N_RESULT, N_ERROR, N_NAMES };
enum { K_REASONING, K_TOOL_CALL, K_TOOL_RESULT, N_KINDS };

typedef struct {
    PyObject_HEAD
    PyObject *setter;
    PyObject *names;  /* tuple of N_NAMES str */
    PyObject *kinds;  /* tuple of N_KINDS str */
    PyObject *call_prefix;    /* "tool_call:" */
    PyObject *result_prefix;  /* "tool_result:" */
    Py_ssize_t max_chars;
    Py_ssize_t window_chars;
    vectorcallfunc vectorcall;
} ViewMaker;

static PyObject *str_trace_id, *str_span_id, *str_name, *str_attributes, *str_start, *str_end;

#define DECLINED ((PyObject *)1) /* not read here: the Python path decides */

/* attrs[name]: NULL when absent, DECLINED when neither None nor an exact str, or with an exception set
   when the lookup raised (borrowed otherwise). */
static PyObject *
plain(PyObject *attrs, PyObject *name, int *absent)
{
    PyObject *value = PyDict_GetItemWithError(attrs, name);
    *absent = value == NULL;
    if (value == NULL && PyErr_Occurred()) {
        return DECLINED;
    }
    if (value == NULL || value == Py_None || PyUnicode_CheckExact(value)) {
        return value;
    }
    return DECLINED;
}

/* _text(value) of a None or exact str value (new reference). */
static PyObject *
text_of(ViewMaker *maker, PyObject *value)
{
    if (value == NULL || value == Py_None) {
        return PyUnicode_New(0, 0);
    }
    if (PyUnicode_GET_LENGTH(value) > maker->max_chars) {
        return PyUnicode_Substring(value, 0, maker->max_chars);
    }
    Py_INCREF(value);
    return value;
}

/* `str(value) if value else None` of a None or exact str value (new reference). */
static PyObject *
str_or_none(PyObject *value)
{
    if (value == NULL || value == Py_None || PyUnicode_GET_LENGTH(value) == 0) {
        Py_RETURN_NONE;
    }
    Py_INCREF(value);
    return value;
}

static int
append_view(ViewMaker *maker, PyObject *views, PyObject *keys, PyObject *const *fields, PyObject *key)
{
    PyObject *view = PyObject_Vectorcall(maker->setter, fields, 13, NULL);
    if (view == NULL) {
        return -1;
    }
    int status = PyList_Append(views, view);
    Py_DECREF(view);
    return status < 0 ? -1 : PyList_Append(keys, key);
}

/* The dedupe key of a tool view: prefix + call id, or None without a call id. */
static PyObject *
tool_key(PyObject *prefix, PyObject *call_id)
{
    if (call_id == Py_None) {
        Py_RETURN_NONE;
    }
    return PyUnicode_Concat(prefix, call_id);
}

static PyObject *
maker_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    ViewMaker *maker = (ViewMaker *)self;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "ViewMaker takes one record");
        return NULL;
    }
    PyObject *record = args[0];
    PyObject *names = maker->names, *kinds = maker->kinds;
    PyObject *attrs = PyObject_GetAttr(record, str_attributes);
    if (attrs == NULL) {
        return NULL;
    }
    PyObject *out = NULL, *views = NULL, *keys = NULL, *key = NULL;
    PyObject *trace_id = NULL, *span_id = NULL, *name = NULL, *start = NULL, *end = NULL;
    PyObject *text = NULL, *tool = NULL, *call_id = NULL, *error = NULL;
    PyObject *reasoning, *arguments, *result, *value;
    int absent, no_arguments, no_result;
    if (!PyDict_CheckExact(attrs)) {
        goto declined;
    }
    /* the message attributes: their views are read in Python */
    for (int i = N_INPUT; i <= N_OUTPUT; i++) {
        int has = PyDict_Contains(attrs, PyTuple_GET_ITEM(names, i));
        if (has != 0) {
            if (has < 0) {
                goto done;
            }
            goto declined;
        }
    }
    if ((reasoning = plain(attrs, PyTuple_GET_ITEM(names, N_REASONING), &absent)) == DECLINED
        || (arguments = plain(attrs, PyTuple_GET_ITEM(names, N_ARGUMENTS), &no_arguments)) == DECLINED
        || (result = plain(attrs, PyTuple_GET_ITEM(names, N_RESULT), &no_result)) == DECLINED) {
        goto declined_or_error;
    }
    if (!no_arguments || !no_result) {
        value = plain(attrs, PyTuple_GET_ITEM(names, N_TOOL), &absent);
        if (value == DECLINED || (tool = str_or_none(value)) == NULL) {
            goto declined_or_error;
        }
        value = plain(attrs, PyTuple_GET_ITEM(names, N_CALL_ID), &absent);
        if (value == DECLINED || (call_id = str_or_none(value)) == NULL) {
            goto declined_or_error;
        }
        if (!no_result) {
            value = plain(attrs, PyTuple_GET_ITEM(names, N_ERROR), &absent);
            if (value == DECLINED || (error = str_or_none(value)) == NULL) {
                goto declined_or_error;
            }
        }
    }
    if ((trace_id = PyObject_GetAttr(record, str_trace_id)) == NULL
        || (span_id = PyObject_GetAttr(record, str_span_id)) == NULL
        || (name = PyObject_GetAttr(record, str_name)) == NULL
        || (start = PyObject_GetAttr(record, str_start)) == NULL
        || (end = PyObject_GetAttr(record, str_end)) == NULL
        || (views = PyList_New(0)) == NULL || (keys = PyList_New(0)) == NULL) {
        goto done;
    }
    /* kind, text, tool, arguments, error, trace_id, span_id, span_name, start, end, location, call id, attrs */
    PyObject *fields[13] = {NULL, NULL, Py_None, Py_None, Py_None, trace_id, span_id, name, start, end, NULL,
                            Py_None, attrs};
    if (reasoning != NULL && reasoning != Py_None && PyUnicode_GET_LENGTH(reasoning) > 0) {
        if ((text = text_of(maker, reasoning)) == NULL) {
            goto done;
        }
        Py_hash_t hash = PyObject_Hash(text);
        if (hash == -1 || (key = PyUnicode_FromFormat("r:%zd", (Py_ssize_t)hash)) == NULL) {
            goto done;
        }
        fields[0] = PyTuple_GET_ITEM(kinds, K_REASONING);
        fields[1] = text;
        fields[10] = PyTuple_GET_ITEM(names, N_REASONING);
        if (append_view(maker, views, keys, fields, key) < 0) {
            goto done;
        }
        Py_CLEAR(text);
        Py_CLEAR(key);
    }
    fields[2] = tool;
    fields[11] = call_id;
    if (!no_arguments) {
        if ((text = text_of(maker, arguments)) == NULL || (key = tool_key(maker->call_prefix, call_id)) == NULL) {
            goto done;
        }
        fields[0] = PyTuple_GET_ITEM(kinds, K_TOOL_CALL);
        fields[1] = fields[3] = text;
        fields[10] = PyTuple_GET_ITEM(names, N_ARGUMENTS);
        if (append_view(maker, views, keys, fields, key) < 0) {
            goto done;
        }
        Py_CLEAR(text);
        Py_CLEAR(key);
    }
    if (!no_result) {
        if ((text = text_of(maker, result)) == NULL || (key = tool_key(maker->result_prefix, call_id)) == NULL) {
            goto done;
        }
        fields[0] = PyTuple_GET_ITEM(kinds, K_TOOL_RESULT);
        fields[1] = text;
        fields[3] = Py_None;
        fields[4] = error;
        fields[10] = PyTuple_GET_ITEM(names, N_RESULT);
        if (append_view(maker, views, keys, fields, key) < 0) {
            goto done;
        }
    }
    PyObject *plain = Py_True, *attr_name, *attr_value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(attrs, &pos, &attr_name, &attr_value)) {
        if (!PyUnicode_CheckExact(attr_value) || PyUnicode_GET_LENGTH(attr_value) > maker->window_chars) {
            plain = Py_False;
            break;
        }
    }
    out = PyTuple_Pack(3, views, keys, plain);
    goto done;
declined_or_error:
    if (PyErr_Occurred()) {
        goto done;
    }
declined:
    out = Py_None;
    Py_INCREF(out);
done:
    Py_DECREF(attrs);
    Py_XDECREF(views);
    Py_XDECREF(keys);
    Py_XDECREF(key);
    Py_XDECREF(text);
    Py_XDECREF(trace_id);
    Py_XDECREF(span_id);
    Py_XDECREF(name);
    Py_XDECREF(start);
    Py_XDECREF(end);
    Py_XDECREF(tool);
    Py_XDECREF(call_id);
    Py_XDECREF(error);
    return out;
}

static PyObject *
maker_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *setter, *names, *kinds;
    Py_ssize_t max_chars, window_chars;
    static char *kwlist[] = {"setter", "names", "kinds", "max_chars", "window_chars", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O!O!nn:ViewMaker", kwlist, &FieldSetterType, &setter,
                                     &PyTuple_Type, &names, &PyTuple_Type, &kinds, &max_chars, &window_chars)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(((FieldSetter *)setter)->names) != 13 || PyTuple_GET_SIZE(names) != N_NAMES
        || PyTuple_GET_SIZE(kinds) != N_KINDS || max_chars < 0 || window_chars < 0) {
        PyErr_SetString(PyExc_ValueError, "ViewMaker: a 13-field setter, 8 names, 3 kinds, max_chars and "
                                          "window_chars >= 0");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < N_NAMES + N_KINDS; i++) {
        PyObject *item = i < N_NAMES ? PyTuple_GET_ITEM(names, i) : PyTuple_GET_ITEM(kinds, i - N_NAMES);
        if (!PyUnicode_CheckExact(item)) {
            PyErr_SetString(PyExc_TypeError, "ViewMaker: names and kinds must be str");
            return NULL;
        }
    }
    ViewMaker *self = (ViewMaker *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->call_prefix = PyUnicode_FromFormat("%U:", PyTuple_GET_ITEM(kinds, K_TOOL_CALL));
    self->result_prefix = PyUnicode_FromFormat("%U:", PyTuple_GET_ITEM(kinds, K_TOOL_RESULT));
    Py_INCREF(setter);
    Py_INCREF(names);
    Py_INCREF(kinds);
    self->setter = setter;
    self->names = names;
    self->kinds = kinds;
    self->max_chars = max_chars;
    self->window_chars = window_chars;
    self->vectorcall = maker_vectorcall;
    if (self->call_prefix == NULL || self->result_prefix == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
maker_traverse(ViewMaker *self, visitproc visit, void *arg)
{
    Py_VISIT(self->setter);
    Py_VISIT(self->names);
    Py_VISIT(self->kinds);
    return 0;
}

static int
maker_clear(ViewMaker *self)
{
    Py_CLEAR(self->setter);
    Py_CLEAR(self->names);
    Py_CLEAR(self->kinds);
    Py_CLEAR(self->call_prefix);
    Py_CLEAR(self->result_prefix);
    return 0;
}

static void
maker_dealloc(ViewMaker *self)
{
    PyObject_GC_UnTrack(self);
    maker_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ViewMakerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "otel_cot._construct.ViewMaker",
    .tp_doc = PyDoc_STR("ViewMaker(setter, names, kinds, max_chars, window_chars): calling it with a SpanRecord "
                        "gives (views, dedupe keys, plain) of a plain tool-call or reasoning span, or None (see "
                        "the source)."),
    .tp_basicsize = sizeof(ViewMaker),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = maker_new,
    .tp_dealloc = (destructor)maker_dealloc,
    .tp_traverse = (traverseproc)maker_traverse,
    .tp_clear = (inquiry)maker_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(ViewMaker, vectorcall),
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "otel_cot._construct",
    .m_doc = "Instances built field by field in C (see otel_cot/native.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__construct(void)
{
    if (PyType_Ready(&FieldSetterType) < 0 || PyType_Ready(&ViewMakerType) < 0) {
        return NULL;
    }
    if ((str_trace_id = PyUnicode_InternFromString("trace_id")) == NULL
        || (str_span_id = PyUnicode_InternFromString("span_id")) == NULL
        || (str_name = PyUnicode_InternFromString("name")) == NULL
        || (str_attributes = PyUnicode_InternFromString("attributes")) == NULL
        || (str_start = PyUnicode_InternFromString("start_time_ns")) == NULL
        || (str_end = PyUnicode_InternFromString("end_time_ns")) == NULL) {
        return NULL;
    }
    empty_tuple = PyTuple_New(0);
    if (empty_tuple == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&FieldSetterType);
    Py_INCREF(&ViewMakerType);
    if (PyModule_AddObject(m, "FieldSetter", (PyObject *)&FieldSetterType) < 0
        || PyModule_AddObject(m, "ViewMaker", (PyObject *)&ViewMakerType) < 0
        || PyModule_AddStringConstant(m, "source_sha256", OTEL_COT_SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

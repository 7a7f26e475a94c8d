/* otel_cot._construct: build an instance of a class from its field values, in C.

   FieldSetter(cls, names) is a callable; calling it with len(names) positional values makes
   object.__new__(cls) and sets each name to its value in order through the generic attribute setter,
   which is what a frozen dataclass's __init__ does with object.__setattr__ (it bypasses the class's
   __setattr__ the same way). The instance dict is filled key by key in declaration order, so it stays the
   class's key-shared dict: the same memory as an instance made by the class itself. See otel_cot/native.py
   for when it is used and how the pure-Python path replaces it. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

#ifndef OTEL_COT_SOURCE_SHA256
#define OTEL_COT_SOURCE_SHA256 ""
#endif

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    PyObject *names; /* tuple of str */
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
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_GenericSetAttr(obj, PyTuple_GET_ITEM(setter->names, i), args[i]) < 0) {
            Py_DECREF(obj);
            return NULL;
        }
    }
    return obj;
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
    FieldSetter *self = (FieldSetter *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(interned);
        return NULL;
    }
    Py_INCREF(cls);
    self->cls = target;
    self->names = interned;
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
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
setter_repr(FieldSetter *self)
{
    return PyUnicode_FromFormat("<FieldSetter %s %R>", self->cls->tp_name, self->names);
}

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
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(FieldSetter, vectorcall),
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
    if (PyType_Ready(&FieldSetterType) < 0) {
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
    if (PyModule_AddObject(m, "FieldSetter", (PyObject *)&FieldSetterType) < 0
        || PyModule_AddStringConstant(m, "source_sha256", OTEL_COT_SOURCE_SHA256) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* time()/stat() from C: with headers whose time_t or struct stat disagree with the runtime's libc, these values
 * come out wrong (or the module fails to load on a signature mismatch). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/stat.h>
#include <time.h>

static PyObject *c_time(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    time_t t = time(NULL);
    return PyLong_FromLongLong((long long)t);
}

static PyObject *c_stat(PyObject *self, PyObject *arg) {
    (void)self;
    const char *path = PyUnicode_AsUTF8(arg);
    if (path == NULL) {
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
    }
    return Py_BuildValue("{s:L,s:L,s:L,s:L,s:L}", "size", (long long)st.st_size, "mtime", (long long)st.st_mtime,
                         "mtime_nsec", (long long)st.st_mtim.tv_nsec, "mode", (long long)st.st_mode, "ino",
                         (long long)st.st_ino);
}

static PyObject *sizes(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return Py_BuildValue("{s:n,s:n,s:n}", "time_t", (Py_ssize_t)sizeof(time_t), "struct_stat",
                         (Py_ssize_t)sizeof(struct stat), "long", (Py_ssize_t)sizeof(long));
}

static PyMethodDef methods[] = {
    {"c_time", c_time, METH_NOARGS, "time(NULL) from C."},
    {"c_stat", c_stat, METH_O, "stat(path) from C: size, mtime, mtime_nsec, mode, ino."},
    {"sizes", sizes, METH_NOARGS, "sizeof(time_t), sizeof(struct stat), sizeof(long) in C."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_probe", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__probe(void) { return PyModule_Create(&module); }

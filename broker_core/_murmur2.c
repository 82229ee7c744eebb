/* Kafka's murmur2 in C: broker_core._murmur2.
 *
 * The same function as broker_core.partitioner.murmur2_py (the reference, kept in Python and
 * cross-checked in tests/broker_core/test_partitioner.py): the 32-bit MurmurHash2 that Kafka's
 * Java client uses to place keyed records (org.apache.kafka.common.utils.Utils.murmur2, seed
 * 0x9747b28c), returned as the signed 32-bit int Java returns.
 *
 * Why C: in pure Python every step makes a new big integer, and murmur2 was a quarter of the
 * model's producer hot path (issue 14). Built in place by `make` through setup.py; when it
 * cannot be built, broker_core.partitioner falls back to the Python one (same values, slower).
 *
 *   murmur2(data)  -> int   data: bytes, bytearray, memoryview (any contiguous buffer)
 *   key_hash(key)  -> int   murmur2 of a str's UTF-8 bytes, without building a bytes object
 *                           when the key is ASCII (the usual case: "order-123456")
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MURMUR2_M 0x5bd1e995u
#define MURMUR2_SEED 0x9747b28cu

static uint32_t
kafka_murmur2(const unsigned char *data, Py_ssize_t length)
{
    /* Java mixes the seed with `int length`: its low 32 bits. */
    uint32_t h = MURMUR2_SEED ^ (uint32_t)length;
    Py_ssize_t words = length >> 2;

    for (Py_ssize_t i = 0; i < words; i++, data += 4) {
        /* Little-endian words, assembled from bytes so the result does not depend on the
         * machine's byte order or alignment (compilers turn this into one load). */
        uint32_t k = (uint32_t)data[0] | ((uint32_t)data[1] << 8) | ((uint32_t)data[2] << 16)
                     | ((uint32_t)data[3] << 24);
        k *= MURMUR2_M;
        k ^= k >> 24;
        k *= MURMUR2_M;
        h *= MURMUR2_M;
        h ^= k;
    }
    /* The tail, as Java's switch falls through it. Java masks each byte with 0xff, so bytes
     * >= 0x80 count as 128..255, never sign-extended: hence unsigned char. */
    switch (length & 3) {
    case 3:
        h ^= (uint32_t)data[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)data[1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)data[0];
        h *= MURMUR2_M;
    }
    /* Java's >>> on int: a logical shift, which is what >> does on uint32_t. */
    h ^= h >> 13;
    h *= MURMUR2_M;
    h ^= h >> 15;
    return h;
}

/* The same 32 bits read as Java's two's-complement int (spelled out rather than cast, since
 * converting an out-of-range value to a signed type is implementation-defined in C). */
static PyObject *
as_java_int(uint32_t h)
{
    int64_t value = (h & 0x80000000u) ? (int64_t)h - 0x100000000LL : (int64_t)h;
    return PyLong_FromLongLong(value);
}

PyDoc_STRVAR(murmur2_doc,
"murmur2(data, /)\n--\n\n"
"Kafka's murmur2 of `data` (bytes, bytearray or memoryview) as a signed 32-bit int, the\n"
"value Java's Utils.murmur2 returns.");

static PyObject *
murmur2(PyObject *module, PyObject *data)
{
    (void)module;
    /* bytes is what every caller passes: read it directly, without a buffer request. */
    if (PyBytes_CheckExact(data)) {
        return as_java_int(kafka_murmur2((const unsigned char *)PyBytes_AS_STRING(data),
                                         PyBytes_GET_SIZE(data)));
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Format(PyExc_TypeError,
                         "murmur2: data must be bytes, bytearray or memoryview, not %.100s",
                         Py_TYPE(data)->tp_name);
        }
        return NULL;
    }
    uint32_t h = kafka_murmur2((const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return as_java_int(h);
}

PyDoc_STRVAR(key_hash_doc,
"key_hash(key, /)\n--\n\n"
"murmur2 of the key's UTF-8 bytes (str keys, as the model's records carry them).");

static PyObject *
key_hash(PyObject *module, PyObject *key)
{
    (void)module;
    if (!PyUnicode_Check(key)) {
        PyErr_Format(PyExc_TypeError, "key_hash: key must be str, not %.100s",
                     Py_TYPE(key)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    /* Before 3.12 a str made through the old wchar_t API is not in its compact form yet. */
    if (PyUnicode_READY(key) < 0) {
        return NULL;
    }
#endif
    /* An ASCII str's characters are already its UTF-8 bytes. */
    if (PyUnicode_IS_ASCII(key)) {
        return as_java_int(kafka_murmur2(PyUnicode_1BYTE_DATA(key), PyUnicode_GET_LENGTH(key)));
    }
    /* Otherwise encode into a temporary bytes, as key.encode("utf-8") does (and raising the
     * same UnicodeEncodeError for a lone surrogate). PyUnicode_AsUTF8AndSize would avoid the
     * copy but keeps the UTF-8 on the str for its lifetime, which records' keys outlive. */
    PyObject *encoded = PyUnicode_AsUTF8String(key);
    if (encoded == NULL) {
        return NULL;
    }
    uint32_t h = kafka_murmur2((const unsigned char *)PyBytes_AS_STRING(encoded),
                               PyBytes_GET_SIZE(encoded));
    Py_DECREF(encoded);
    return as_java_int(h);
}

static PyMethodDef murmur2_methods[] = {
    {"murmur2", murmur2, METH_O, murmur2_doc},
    {"key_hash", key_hash, METH_O, key_hash_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot murmur2_slots[] = {
#if PY_VERSION_HEX >= 0x030C0000
    /* No module state and no globals: safe in every subinterpreter. */
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    /* Pure functions of their argument, nothing shared: fine without the GIL (3.13t). */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef murmur2_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "broker_core._murmur2",
    .m_doc = "Kafka's murmur2 in C; broker_core.partitioner.murmur2_py is the reference.",
    .m_size = 0,
    .m_methods = murmur2_methods,
    .m_slots = murmur2_slots,
};

PyMODINIT_FUNC
PyInit__murmur2(void)
{
    return PyModuleDef_Init(&murmur2_module);
}

/* python/src/class_cache.c — instances of static objects made without the Python hook once their class is known. */
#include "class_cache.h"

/* Two caches: by block (the region's, RegionObject.object_classes), so that
 * reading the same object again (`thing.company_info.income`) decodes
 * nothing; and by (class key, field names) (the module's), so that each new
 * object of a known class skips the hook. An entry of either is
 * (generation, class, ref offset). Each is emptied when it reaches this
 * size, which a program reading that many different classes or blocks over
 * again would notice only as time. */
#define OBJECT_CACHE_MAX 65536

/* What object.__new__(cls) does, with the link in the class's own slot. */
static PyObject *new_instance(RegionObject *self, PyTypeObject *cls, Py_ssize_t ref_offset,
                              ipo_off_t values_off)
{
    PyObject *ref = ipo_py_new_view(self, (PyObject *)self->st->object_ref_type, values_off);
    if (!ref)
        return NULL;
    PyObject *inst = cls->tp_alloc(cls, 0);
    if (!inst) {
        Py_DECREF(ref);
        return NULL;
    }
    *(PyObject **)((char *)inst + ref_offset) = ref;
    return inst;
}

/* The entry for key, borrowed, or NULL (and no exception) when none. */
static PyObject *cache_get(PyObject *cache, PyObject *key)
{
    PyObject *entry = cache ? PyDict_GetItemWithError(cache, key) : NULL;
    if (!entry)
        PyErr_Clear(); /* a failed lookup is a miss */
    return entry;
}

static void cache_put(PyObject **cache, PyObject *key, PyObject *entry)
{
    if (!*cache)
        *cache = PyDict_New();
    else if (PyDict_GET_SIZE(*cache) >= OBJECT_CACHE_MAX)
        PyDict_Clear(*cache);
    if (!*cache || PyDict_SetItem(*cache, key, entry) < 0)
        PyErr_Clear(); /* a cache: missing it only costs time */
}

static int instance_from(RegionObject *self, PyObject *entry, ipo_off_t values_off, PyObject **inst)
{
    Py_ssize_t ref_offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 2));
    *inst = new_instance(self, (PyTypeObject *)PyTuple_GET_ITEM(entry, 1), ref_offset, values_off);
    return *inst ? 1 : -1;
}

static void remember(RegionObject *self, PyObject *block_key, PyObject *class_key, uint32_t gen,
                     PyTypeObject *cls, PyObject *ref_offset)
{
    PyObject *gen_obj = PyLong_FromUnsignedLong(gen);
    PyObject *entry = gen_obj ? PyTuple_Pack(3, gen_obj, (PyObject *)cls, ref_offset) : NULL;
    Py_XDECREF(gen_obj);
    if (!entry) {
        PyErr_Clear();
        return;
    }
    cache_put(&self->object_classes, block_key, entry);
    if (class_key)
        cache_put(&self->st->object_classes, class_key, entry);
    Py_DECREF(entry);
}

int ipo_py_class_cache_by_block(RegionObject *self, PyObject *block_key, uint32_t gen,
                                ipo_off_t values_off, PyObject **inst)
{
    /* A block destroyed and made again at the same offset has a newer
     * generation, and perhaps another class. */
    PyObject *hit = cache_get(self->object_classes, block_key);
    if (!hit || PyLong_AsUnsignedLong(PyTuple_GET_ITEM(hit, 0)) != gen)
        return 0;
    return instance_from(self, hit, values_off, inst);
}

int ipo_py_class_cache_by_class(RegionObject *self, PyObject *class_key, PyObject *block_key,
                                uint32_t gen, ipo_off_t values_off, PyObject **inst)
{
    PyObject *hit = cache_get(self->st->object_classes, class_key);
    if (!hit)
        return 0;
    if (instance_from(self, hit, values_off, inst) < 0)
        return -1;
    remember(self, block_key, NULL, gen, Py_TYPE(*inst), PyTuple_GET_ITEM(hit, 2));
    return 1;
}

void ipo_py_class_cache_remember(RegionObject *self, PyObject *block_key, PyObject *class_key,
                                 uint32_t gen, PyTypeObject *cls)
{
    /* Generated classes say where their instances keep the link. */
    PyObject *ref_offset = PyObject_GetAttr((PyObject *)cls, self->st->str_ipo_ref_offset);
    if (!ref_offset) {
        PyErr_Clear();
        return;
    }
    remember(self, block_key, class_key, gen, cls, ref_offset);
    Py_DECREF(ref_offset);
}

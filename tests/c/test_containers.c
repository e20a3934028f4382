/* tests/c/test_containers.c — lists and hash tables, as a C service uses them (the stable hash: test_hash.c). */
#include "ipo/alloc.h"
#include "ipo/containers.h"
#include "ipo/hash.h"
#include "ipo/region.h"
#include "region_twin.h"
#include "task.h"

static ipo_value_t int_value(int64_t v)
{
    return (ipo_value_t){ .type = IPO_T_INT64, .v.i64 = v };
}

static ipo_value_t str_value(ipo_region_t *r, const char *text)
{
    ipo_off_t off;
    void *data;
    ASSERT_OK(ipo_obj_new(r, IPO_T_STR, strlen(text), &off, &data));
    memcpy(data, text, strlen(text));
    return (ipo_value_t){ .type = IPO_T_STR, .v.off = off };
}

static void test_list(void)
{
    char note[256];
    ipo_region_t r;
    void *mem = region_twin_new(1 << 20, &r);
    ipo_alloc_stats_t before, after;
    ipo_alloc_stats(&r.heap, &before);

    ipo_off_t off;
    ASSERT_OK(ipo_list_new(&r, 0, &off));
    ipo_obj_t *list = (ipo_obj_t *)((uint8_t *)mem + off);
    /* Appending one at a time grows the array geometrically, moving it. */
    for (int64_t i = 0; i < 1000; i++) {
        ipo_value_t v = int_value(i);
        ASSERT_OK(ipo_list_insert(&r, list, ((ipo_list_t *)ipo_obj_data(list))->len, &v, 1));
    }
    uint64_t len;
    ipo_value_t *items = ipo_list_items(&r, list, &len);
    ASSERT_UEQ(len, 1000);
    for (int64_t i = 0; i < 1000; i++)
        ASSERT_EQ(items[i].v.i64, i);

    /* Insert in the middle shifts the rest; a child object is owned. */
    ipo_value_t s = str_value(&r, "middle");
    ASSERT_OK(ipo_list_insert(&r, list, 500, &s, 1));
    items = ipo_list_items(&r, list, &len);
    ASSERT_UEQ(len, 1001);
    ASSERT_EQ(items[500].type, IPO_T_STR);
    ASSERT_EQ(items[501].v.i64, 500);
    ASSERT_ERR(ipo_list_insert(&r, list, 2000, &s, 1), IPO_EINVAL);

    /* Removing moves values out or releases them; the tail becomes NONE. */
    ipo_value_t out[2];
    ipo_list_remove(&r, list, 499, 2, out);
    ASSERT_EQ(out[0].v.i64, 499);
    ASSERT_EQ(out[1].type, IPO_T_STR);
    ipo_value_release(&r, &out[1]);
    ipo_list_remove(&r, list, 0, 990, NULL);
    items = ipo_list_items(&r, list, &len);
    ASSERT_UEQ(len, 9);
    ASSERT_EQ(items[0].v.i64, 991);
    ASSERT_EQ(items[9].type, IPO_T_NONE);
    ipo_list_trim(&r, list);
    items = ipo_list_items(&r, list, &len);
    ASSERT_UEQ(len, 9);
    ASSERT_EQ(items[8].v.i64, 999);

    ASSERT_OK(ipo_obj_check_tree(&r, off, 0, note, sizeof(note)));
    ipo_list_t *l = ipo_obj_data(list);
    l->len += 100;
    ASSERT_ERR(ipo_obj_check_tree(&r, off, 0, note, sizeof(note)), IPO_ECORRUPT);
    l->len -= 100;

    /* A view's generation check: a destroyed list's generation reads 0. */
    ASSERT_NE(list->gen, 0);
    ASSERT_OK(ipo_obj_destroy(&r, off));
    ASSERT_EQ(list->gen, 0);
    ipo_alloc_stats(&r.heap, &after);
    ASSERT_UEQ(after.free_bytes, before.free_bytes);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

static int int_eq(void *ctx, const ipo_value_t *stored)
{
    return stored->type == IPO_T_INT64 && stored->v.i64 == *(int64_t *)ctx;
}

static void test_map(void)
{
    char note[256];
    ipo_region_t r;
    void *mem = region_twin_new(4 << 20, &r);
    ipo_alloc_stats_t before, after;
    ipo_alloc_stats(&r.heap, &before);

    ipo_off_t off;
    ASSERT_ERR(ipo_map_new(&r, IPO_T_LIST, 0, &off), IPO_EINVAL);
    ASSERT_OK(ipo_map_new(&r, IPO_T_DICT, 0, &off));
    ipo_obj_t *map = (ipo_obj_t *)((uint8_t *)mem + off);
    enum { N = 5000 };
    for (int64_t i = 0; i < N; i++) {
        ASSERT_EQ(ipo_map_find(&r, map, ipo_hash_int64(i), int_eq, &i), IPO_MAP_ABSENT);
        ipo_value_t k = int_value(i), v = i % 2 ? str_value(&r, "odd") : int_value(-i);
        ASSERT_OK(ipo_map_insert(&r, map, ipo_hash_int64(i), &k, &v));
    }
    ASSERT_UEQ(ipo_map_table(&r, map)->used, N);
    for (int64_t i = 0; i < N; i++) {
        int64_t e = ipo_map_find(&r, map, ipo_hash_int64(i), int_eq, &i);
        ASSERT_GE(e, 0);
        /* Insertion order: entry i is key i, until the first deletion. */
        ASSERT_EQ(e, i);
    }
    /* Delete the even keys, releasing their values; the odd stay found. */
    for (int64_t i = 0; i < N; i += 2) {
        int64_t e = ipo_map_find(&r, map, ipo_hash_int64(i), int_eq, &i);
        ipo_map_delete(&r, map, (uint64_t)e, NULL, NULL);
        ASSERT_EQ(ipo_map_find(&r, map, ipo_hash_int64(i), int_eq, &i), IPO_MAP_ABSENT);
    }
    /* Re-inserting compacts the deleted entries away, keeping order. */
    for (int64_t i = 0; i < N; i += 2) {
        ipo_value_t k = int_value(i);
        ASSERT_OK(ipo_map_insert(&r, map, ipo_hash_int64(i), &k, NULL));
    }
    ipo_table_t *t = ipo_map_table(&r, map);
    ASSERT_UEQ(t->used, N);
    ipo_entry_t *entries = ipo_table_entries(t);
    int64_t first_live = -1;
    for (uint64_t j = 0; j < t->nentries && first_live < 0; j++)
        if (entries[j].live)
            first_live = entries[j].key.v.i64;
    ASSERT_EQ(first_live, 1);
    for (int64_t i = 0; i < N; i++)
        ASSERT_GE(ipo_map_find(&r, map, ipo_hash_int64(i), int_eq, &i), 0);

    /* check() finds a table whose index and entries disagree. */
    ASSERT_OK(ipo_obj_check_tree(&r, off, 0, note, sizeof(note)));
    ipo_table_t *damaged = ipo_map_table(&r, map);
    damaged->used++;
    ASSERT_ERR(ipo_obj_check_tree(&r, off, 0, note, sizeof(note)), IPO_ECORRUPT);
    damaged->used--;
    ipo_entry_t *first = ipo_table_entries(damaged);
    uint64_t saved_hash = first->hash;
    first->hash ^= 0x5555;
    ASSERT_ERR(ipo_obj_check_tree(&r, off, 0, note, sizeof(note)), IPO_ECORRUPT);
    first->hash = saved_hash;
    ASSERT_OK(ipo_obj_check_tree(&r, off, 0, note, sizeof(note)));

    ipo_map_clear(&r, map);
    ASSERT_UEQ(ipo_map_table(&r, map)->used, 0);
    int64_t one = 1;
    ASSERT_EQ(ipo_map_find(&r, map, ipo_hash_int64(1), int_eq, &one), IPO_MAP_ABSENT);
    ipo_value_t k = int_value(1), v = str_value(&r, "kept until destroyed");
    ASSERT_OK(ipo_map_insert(&r, map, ipo_hash_int64(1), &k, &v));
    ASSERT_OK(ipo_obj_destroy(&r, off));
    ipo_alloc_stats(&r.heap, &after);
    ASSERT_UEQ(after.free_bytes, before.free_bytes);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

/* Replacing values in place: every kind of change gives the new value and
 * frees the old child; a slot that is not the holder's is refused. */
static void test_value_replace(void)
{
    char note[256];
    ipo_region_t r;
    void *mem = region_twin_new(1 << 20, &r);
    ipo_alloc_stats_t before, after;
    ipo_off_t off, map_off;
    ASSERT_OK(ipo_list_new(&r, 4, &off));
    ipo_obj_t *list = (ipo_obj_t *)((uint8_t *)mem + off);
    ipo_value_t vals[3] = { int_value(1), str_value(&r, "one"), int_value(3) };
    ASSERT_OK(ipo_list_insert(&r, list, 0, vals, 3));
    ipo_alloc_stats(&r.heap, &before);
    uint64_t len;
    ipo_value_t *items = ipo_list_items(&r, list, &len);

    ipo_value_t v = int_value(10); /* int over int: one store */
    ASSERT_OK(ipo_list_set(&r, list, 0, &v));
    ASSERT_EQ(items[0].v.i64, 10);
    v = str_value(&r, "two"); /* a child over a child: the old one goes */
    ASSERT_OK(ipo_list_set(&r, list, 1, &v));
    ASSERT_EQ(items[1].v.off, v.v.off);
    ipo_alloc_stats(&r.heap, &after);
    ASSERT_UEQ(after.used_blocks, before.used_blocks);
    v = str_value(&r, "three"); /* a child over an int, an int over a child */
    ASSERT_OK(ipo_list_set(&r, list, 2, &v));
    ASSERT_EQ(items[2].type, IPO_T_STR);
    v = (ipo_value_t){ .type = IPO_T_FLOAT64, .v.f64 = 2.5 };
    ASSERT_OK(ipo_list_set(&r, list, 1, &v));
    ASSERT_EQ(items[1].type, IPO_T_FLOAT64);
    ipo_alloc_stats(&r.heap, &after);
    ASSERT_UEQ(after.used_blocks, before.used_blocks);
    ASSERT_UEQ(r.hdr->note.kind, IPO_NOTE_NONE);
    ASSERT_ERR(ipo_list_set(&r, list, 3, &v), IPO_EINVAL);
    /* A slot of another block, or one past the array, is not the holder's
     * (checked whenever the note must name the slot: a child here). */
    v = str_value(&r, "refused");
    ASSERT_ERR(ipo_value_replace(&r, list, &items[0], &v), IPO_EINVAL);
    ASSERT_ERR(ipo_value_replace(&r, ipo_list_array(&r, list), &items[4], &v), IPO_EINVAL);
    ipo_value_release(&r, &v);

    /* A dict's value; a set has none; a deleted entry is not there. */
    ASSERT_OK(ipo_map_new(&r, IPO_T_DICT, 0, &map_off));
    ipo_obj_t *map = (ipo_obj_t *)((uint8_t *)mem + map_off);
    ipo_value_t k = int_value(7), mv = int_value(70);
    ASSERT_OK(ipo_map_insert(&r, map, ipo_hash_int64(7), &k, &mv));
    mv = str_value(&r, "seventy");
    ASSERT_OK(ipo_map_set_value(&r, map, 0, &mv));
    ASSERT_EQ(ipo_table_entries(ipo_map_table(&r, map))[0].value.type, IPO_T_STR);
    ASSERT_ERR(ipo_map_set_value(&r, map, 1, &mv), IPO_EINVAL);
    ipo_map_delete(&r, map, 0, NULL, NULL);
    ASSERT_ERR(ipo_map_set_value(&r, map, 0, &mv), IPO_EINVAL);

    /* Reordering: a permutation, built aside; anything else refused. */
    uint64_t rev[3] = { 2, 1, 0 }, twice[3] = { 0, 0, 1 };
    ASSERT_OK(ipo_list_permute(&r, list, rev, 3));
    items = ipo_list_items(&r, list, &len);
    ASSERT_EQ(items[0].type, IPO_T_STR);
    ASSERT_EQ(items[2].v.i64, 10);
    ASSERT_ERR(ipo_list_permute(&r, list, twice, 3), IPO_EINVAL);
    ASSERT_ERR(ipo_list_permute(&r, list, rev, 2), IPO_EINVAL);
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    ASSERT_OK(ipo_obj_check_tree(&r, off, 0, note, sizeof(note)));
    ASSERT_OK(ipo_obj_destroy(&r, off));
    ASSERT_OK(ipo_obj_destroy(&r, map_off));
    region_twin_free(mem, &r);
}

/* The repair of a replace cut short, for each state a kill can leave (and
 * again, as a second repair after a taker killed in the first finds it):
 * before the payload's store and after it the old value comes back (the
 * new child freed), after the type's store the new value stays (the old
 * child freed). */
static void test_value_repair(void)
{
    char note[256];
    for (int stores = 0; stores <= 2; stores++) {
        for (int old_child = 0; old_child <= 1; old_child++) {
            ipo_region_t r;
            void *mem = region_twin_new(1 << 20, &r);
            ipo_off_t off;
            ASSERT_OK(ipo_list_new(&r, 2, &off));
            ipo_obj_t *list = (ipo_obj_t *)((uint8_t *)mem + off);
            ipo_value_t old = old_child ? str_value(&r, "old") : int_value(5);
            ASSERT_OK(ipo_list_insert(&r, list, 0, &old, 1));
            ipo_value_t nu = old_child ? int_value(6) : str_value(&r, "new");
            ipo_alloc_stats_t start, end;
            ipo_alloc_stats(&r.heap, &start);
            uint64_t len;
            ipo_value_t *slot = ipo_list_items(&r, list, &len);
            ipo_obj_t *array = ipo_list_array(&r, list);
            /* What ipo_value_replace does up to the kill. */
            r.hdr->note.target = (ipo_off_t)((uint8_t *)array - (uint8_t *)mem);
            r.hdr->note.a = (uint64_t)nu.type << 8 | old.type; /* the slot is the first: place 0 */
            r.hdr->note.b = old.v.u64;
            r.hdr->note.kind = IPO_NOTE_VALUE;
            if (stores >= 1)
                slot->v.u64 = nu.v.u64;
            if (stores >= 2)
                slot->type = nu.type;
            for (int repair = 0; repair < 2; repair++) {
                ASSERT_OK(ipo_containers_repair(&r));
                ASSERT_UEQ(r.hdr->note.kind, IPO_NOTE_NONE);
                ipo_value_t want = stores == 2 ? nu : old;
                ASSERT_EQ(slot->type, want.type);
                ASSERT_UEQ(slot->v.u64, want.v.u64);
                ipo_alloc_stats(&r.heap, &end);
                /* The unnamed child is freed: the new one if it was stored
                 * and undone, the old one once the new was published. A new
                 * child never stored stays (the caller's: a cut turn's
                 * unlinked block). */
                uint64_t freed = (stores == 1 && !old_child) || (stores == 2 && old_child);
                ASSERT_UEQ(end.used_blocks, start.used_blocks - freed);
                ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
                ASSERT_OK(ipo_obj_check_tree(&r, off, 0, note, sizeof(note)));
            }
            region_twin_free(mem, &r);
        }
    }
}

/* What a compare that runs code (a Python key's __eq__, a finalizer) may do
 * to the table a lookup is probing: free it, and the block be reused for
 * other data. Here: the header and index overwritten with large numbers. */
typedef struct clobber {
    ipo_table_t *t;
    int          calls;
} clobber_t;

static int clobbering_eq(void *ctx, const ipo_value_t *stored)
{
    (void)stored;
    clobber_t *c = ctx;
    if (c->calls++ == 0) {
        uint32_t *index = ipo_table_index(c->t);
        for (uint64_t i = 0; i < c->t->index_size; i++)
            index[i] = 0xFFFFFFF0u;
        c->t->nentries = 0xFFFFFFF0u;
        c->t->index_size = UINT64_C(1) << 40;
    }
    return 0;
}

/* A lookup goes on probing after a compare: what it reads of the table
 * (its size, its number of entries) must be what it checked at the start,
 * so that a table rewritten under it is never followed past its block. */
static void test_map_find_after_a_compare_changed_the_table(void)
{
    ipo_region_t r;
    void *mem = region_twin_new(1 << 20, &r);
    ipo_off_t off;
    ASSERT_OK(ipo_map_new(&r, IPO_T_DICT, 0, &off));
    ipo_obj_t *map = (ipo_obj_t *)((uint8_t *)mem + off);
    for (int64_t i = 0; i < 8; i++) {
        ipo_value_t k = int_value(i), v = int_value(-i);
        ASSERT_OK(ipo_map_insert(&r, map, ipo_hash_int64(i), &k, &v));
    }
    ipo_table_t *t = ipo_map_table(&r, map);
    ASSERT(t != NULL);
    size_t bytes = (size_t)((uint8_t *)(ipo_table_entries(t) + t->entry_cap) - (uint8_t *)t);
    void *saved = malloc(bytes);
    ASSERT(saved != NULL);
    memcpy(saved, t, bytes);
    clobber_t c = { t, 0 };
    ASSERT_EQ(ipo_map_find_in(t, ipo_hash_int64(3), clobbering_eq, &c), IPO_MAP_ABSENT);
    ASSERT_EQ(c.calls, 1);
    memcpy(t, saved, bytes);
    free(saved);
    ASSERT_OK(ipo_obj_destroy(&r, off));
    ASSERT_CHECK(ipo_region_check(&r, why, sizeof(why)));
    region_twin_free(mem, &r);
}

int main(void)
{
    RUN(test_list);
    RUN(test_map);
    RUN(test_map_find_after_a_compare_changed_the_table);
    RUN(test_value_replace);
    RUN(test_value_repair);
    return 0;
}

/* core/include/ipo/layout.h — the shared-memory layout: an ABI between processes and languages. */
#ifndef IPO_LAYOUT_H
#define IPO_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Everything inside a region is addressed by offsets from the region's first
 * byte, never by pointers: each process maps the region at its own address.
 * Offset 0 is the header, so 0 doubles as "no object". All integers are in
 * the host's byte order; a region is shared between processes of one host. */
typedef uint64_t ipo_off_t;

#define IPO_MAGIC            UINT64_C(0x314e4745524f5049) /* "IPOREGN1" */
#define IPO_LAYOUT_VERSION   9u
#define IPO_CACHE_LINE       64
#define IPO_NAME_MAX         200     /* bytes of a region name, leading '/' excluded */
#define IPO_DEFAULT_SLOTS    16u
#define IPO_MAX_SLOTS        1024u
#define IPO_REGION_MIN_SIZE  (UINT64_C(1) << 16)
#define IPO_REGION_MAX_SIZE  (UINT64_C(1) << 46)

/* Participants hold an open-file-description lock on one byte of the region's
 * file each, at IPO_LIVENESS_LOCK_BASE + slot: the kernel drops the lock when
 * the process dies, so "is the lock held" is an exact liveness test that pid
 * reuse cannot fool. The bytes lie far past the end of the data; POSIX allows
 * locking beyond end of file. */
#define IPO_LIVENESS_LOCK_BASE (UINT64_C(1) << 50)

enum ipo_region_state {
    IPO_STATE_INIT    = 1,  /* being formatted by its creator */
    IPO_STATE_READY   = 2,  /* stored last, with release ordering */
    IPO_STATE_CLOSING = 3   /* the creator is leaving: no new participants */
};

enum ipo_slot_state {
    IPO_SLOT_FREE   = 0,
    IPO_SLOT_ACTIVE = 1
};

enum ipo_role {
    IPO_ROLE_CREATOR  = 1,
    IPO_ROLE_CONSUMER = 2
};

/* The access word, three fields in one 64-bit word:
 *   bits  0-15  the owner's slot + 1 (0 when free), with IPO_ACCESS_HANDED
 *               set while a releaser has handed the turn to that slot's
 *               waiter and the waiter has not claimed it yet (a handed turn
 *               is held: nobody else's compare-and-swap takes it);
 *   bits 16-31  how many waiters sleep on their doorbells;
 *   bits 32-63  a count of acquisitions, changed by every acquire, so that a
 *               waiter can tell "released and taken again" from "held".
 * Sleepers register in the very word a release clears, so the release (one
 * atomic read-modify-write) always sees every sleeper that could have missed
 * it: no wakeup is lost, and no fence is needed besides. */
#define IPO_ACCESS_OWNER_MASK   UINT64_C(0xffff)
#define IPO_ACCESS_HANDED       UINT64_C(0x8000)
#define IPO_ACCESS_SLOT_MASK    UINT64_C(0x7fff)   /* the owner field without HANDED */
#define IPO_ACCESS_SLEEPER_ONE  (UINT64_C(1) << 16)
#define IPO_ACCESS_SLEEPER_MASK (UINT64_C(0xffff) << 16)
#define IPO_ACCESS_COUNT_SHIFT  32
#define IPO_ACCESS_COUNT_ONE    (UINT64_C(1) << IPO_ACCESS_COUNT_SHIFT)

/* One participant. Slot 0 is the creator's. The waiting fields belong to the
 * wakeup layer (loop/): a sleeper publishes what it waits for
 * (IPO_WAIT_FOR_* bits), then registers in the access word; a releaser that
 * sees sleepers rings the doorbells of those it can satisfy. Other
 * processes read a slot without holding access (releasers read the waiting
 * fields and the generation at any time; a claimer reads what a dead
 * occupant left), so every access to a slot's fields goes through
 * ipo/atomics.h; ipo__occupy_slot() in region.c says in which order a claimer
 * writes them. */
enum ipo_wait_for {
    IPO_WAIT_FOR_ACCESS   = 1,  /* access is free: the longest such waiter is rung */
    IPO_WAIT_FOR_MESSAGES = 2,  /* the queue holds a message: all are rung */
    IPO_WAIT_FOR_CHANGE   = 4   /* a turn changed shared state, or a participant left: all are rung */
};

/* header.line: the waiter for access that a releaser rang (one at a time:
 * releasers ring another only while it is 0), and whether that waiter came
 * back to find the turn taken, so that the next release hands the turn to
 * it directly (loop/src/handoff.c). */
#define IPO_LINE_SLOT_MASK  0xffffu
#define IPO_LINE_DUE        0x10000u
#define IPO_LINE_AWAKE      0x20000u   /* the due waiter spins: a handoff needs no ring */

typedef struct ipo_slot {
    uint32_t state;          /* ipo_slot_state */
    uint32_t pid;
    uint32_t role;           /* ipo_role */
    uint32_t generation;     /* bumped each time the slot is claimed */
    uint64_t start_time;     /* the process's start time in clock ticks since boot */
    uint32_t waiting_for;    /* IPO_WAIT_FOR_* bits of this participant's sleepers */
    uint32_t wake_pending;   /* a ring is on its way: coalesces rings */
    uint64_t sleep_ticket;   /* when it began to wait for access: the oldest is rung first */
    uint32_t sleepers;       /* its registrations counted in the access word */
    uint32_t reserved0;
    uint64_t pin_log;        /* the chain of what its occupant pinned (core/src/pins.c), or 0 */
    uint64_t turns;          /* turns its occupant took (statistics; reset by a new occupant) */
} ipo_slot_t;

/* The allocator: segregated fits in the manner of TLSF. Size classes are a
 * first level (powers of two) split into IPO_ALLOC_SL_COUNT linear second
 * levels; two bitmaps find a non-empty class in O(1). */
#define IPO_ALLOC_GRANULE   16u
#define IPO_ALLOC_SL_LOG2   5
#define IPO_ALLOC_SL_COUNT  (1u << IPO_ALLOC_SL_LOG2)
#define IPO_ALLOC_FL_COUNT  40u   /* covers blocks up to 2^48 bytes */

typedef struct ipo_alloc_root {
    uint64_t  tag_key;       /* mixed into block tags: random per region */
    ipo_off_t heap_start;    /* the first block */
    ipo_off_t heap_end;      /* the zero-size sentinel block that ends the heap */
    uint64_t  free_bytes;    /* sum of the sizes of free blocks, headers included */
    uint64_t  used_blocks;
    uint64_t  free_blocks;
    uint64_t  fl_bitmap;
    uint32_t  sl_bitmap[IPO_ALLOC_FL_COUNT];
    ipo_off_t free_heads[IPO_ALLOC_FL_COUNT][IPO_ALLOC_SL_COUNT];
} ipo_alloc_root_t;

/* Every block starts with this header; the payload follows it. Sizes are
 * multiples of the granule, so the low bits of size_tag carry flags; its top
 * 16 bits carry a tag derived from the block's offset and the region's
 * tag_key while it is allocated, which lets ipo_alloc_free reject offsets
 * that never came from ipo_alloc. Headers absorbed by a merge are zeroed. */
typedef struct ipo_block {
    uint64_t prev_size;      /* size of the physically previous block, valid while that one is free */
    uint64_t size_tag;       /* size | IPO_BLOCK_* flags | tag << IPO_BLOCK_TAG_SHIFT */
} ipo_block_t;

#define IPO_BLOCK_FREE       UINT64_C(1)
#define IPO_BLOCK_PREV_FREE  UINT64_C(2)
#define IPO_BLOCK_TAG_SHIFT  48
#define IPO_BLOCK_SIZE_MASK  (((UINT64_C(1) << IPO_BLOCK_TAG_SHIFT) - 1) & ~(uint64_t)(IPO_ALLOC_GRANULE - 1))

/* A free block's payload holds its free-list links. */
typedef struct ipo_free_links {
    ipo_off_t next;
    ipo_off_t prev;
} ipo_free_links_t;

/* The message queue: a ring of object offsets indexed by two counters that
 * only grow. Message i lives in entries[i & (capacity - 1)]; i is also its
 * sequence number. A full ring is replaced by one twice its size, published
 * by a single store of `ring`, so a crash leaves the old ring or the new. */
typedef struct ipo_queue {
    uint64_t  head;          /* the oldest message; advanced by take */
    uint64_t  tail;          /* one past the newest; advanced by put (release) */
    ipo_off_t ring;          /* the current ipo_ring_t */
    uint64_t  taken;         /* messages ever taken (statistics: put = taken + length) */
} ipo_queue_t;

typedef struct ipo_ring {
    uint64_t  capacity;      /* a power of two (or, when doubling did not fit, any size) */
    uint64_t  reserved;
    ipo_off_t entries[];     /* capacity offsets, then capacity u64 put times (queue.c) */
} ipo_ring_t;

/* What a holder is in the middle of, for whoever takes its turn over if it
 * dies: a change that no single store can publish notes itself here first
 * (kind, then a fence, then the change), and clears the note after. The
 * repair (core/src/recover.c) finishes or undoes the change it names. */
enum ipo_note_kind {
    IPO_NOTE_NONE = 0,
    IPO_NOTE_LIST = 1,   /* target: a list moving to a new array; a: the old array; b: its new length */
    IPO_NOTE_MAP  = 2,   /* target: a dict or set whose table is changed in place: rebuild its index */
    IPO_NOTE_VALUE = 3   /* target: a VALUES or TABLE block one of whose value slots is replaced
                          * (ipo_value_replace: a change of type, or a child); a: the slot's place
                          * in the block's payload << 16 | its new type << 8 | its old type;
                          * b: its old payload */
};

typedef struct ipo_turn_note {
    uint64_t  kind;          /* ipo_note_kind; stored last when set, first when cleared */
    ipo_off_t target;
    uint64_t  a;
    uint64_t  b;
} ipo_turn_note_t;

/* Channels (core/src/channel.c): named rings of fixed slots inside the
 * heap, each moved through by one sender and one receiver without the
 * access turn. The header's `channels` names a directory block (built and
 * replaced under access: a full directory is replaced by one twice as
 * large, published with one store of `channels`); each entry names a
 * channel block. Neither block is an object: their first byte is 0, a type
 * code no object carries. */
#define IPO_CHANNEL_NAME_MAX     47u     /* bytes of a channel name, NUL excluded */
#define IPO_CHANNEL_MAX_SLOTS    (1u << 20)
#define IPO_CHANNEL_MAX_SLOT_SIZE (UINT64_C(1) << 40)
#define IPO_CHANNEL_DIR_MAGIC    UINT64_C(0x3152494443504900) /* "\0IPCDIR1" */
#define IPO_CHANNEL_MAGIC        UINT64_C(0x314e414843504900) /* "\0IPCHAN1" */

typedef struct ipo_channel_entry {
    char      name[IPO_CHANNEL_NAME_MAX + 1];  /* NUL-terminated and NUL-padded */
    ipo_off_t chan;          /* the ipo_chan_t */
    uint64_t  reserved;
} ipo_channel_entry_t;

typedef struct ipo_channel_dir {
    uint64_t  magic;         /* IPO_CHANNEL_DIR_MAGIC */
    uint64_t  capacity;      /* entries the block holds */
    uint64_t  count;         /* entries in use: an entry is written before count covers it */
    uint64_t  reserved;
    ipo_channel_entry_t entries[];
} ipo_channel_dir_t;

/* A claim of a channel's side: the participant's generation << 32 | its
 * slot + 1; 0: unclaimed. A claim whose participant slot has moved to
 * another generation, or whose occupant's liveness lock is free, is a dead
 * one's, and the next claimer takes it over with one compare-and-swap. */
#define IPO_CHANNEL_CLAIM_SLOT_MASK UINT64_C(0xffffffff)
#define IPO_CHANNEL_CLAIM_GEN_SHIFT 32

/* The channel: identity (written once, before the directory entry that
 * names it is published), the claims, then the sender's index and the
 * receiver's index each on its own cache line; from offset 192 the
 * lengths' table (`slots` u64, padded to a cache line), then `slots` slots
 * of `stride` bytes, each 64-byte aligned (an ndarray's data may lie in
 * place). Message i is lengths[i mod slots] bytes in slot i mod slots. The
 * lengths are apart from the slots so that a message of 64 bytes touches
 * one line of payload, not a header line besides: 8 lengths share a line. */
typedef struct ipo_chan {
    uint64_t  magic;         /* IPO_CHANNEL_MAGIC */
    uint32_t  slots;         /* a power of two, 1 to IPO_CHANNEL_MAX_SLOTS */
    uint32_t  reserved0;
    uint64_t  slot_size;     /* payload bytes a slot holds, 1 to IPO_CHANNEL_MAX_SLOT_SIZE */
    uint64_t  stride;        /* slot_size rounded up to 64 */
    uint64_t  sender;        /* the sender's claim (IPO_CHANNEL_CLAIM_*), 0: none */
    uint64_t  receiver;      /* the receiver's claim */
    uint64_t  reserved1[2];
    _Alignas(IPO_CACHE_LINE) uint64_t tail;  /* messages ever published: written by the sender only
                                              * (release), after the slot's bytes and length */
    _Alignas(IPO_CACHE_LINE) uint64_t head;  /* messages ever released: written by the receiver only
                                              * (release), after it is done reading the slot */
} ipo_chan_t;

/* Who touches what. Identity fields and the table offsets are written once,
 * before the magic (release) and READY (release), and only read after: they
 * stay plain. state, access, attach_count, sleep_tickets, changes and the
 * queue's head and tail are read or written by processes that do not hold
 * access, so they go through ipo/atomics.h. next_gen, queue.ring and the allocator
 * root are read and written only under access: plain. */
typedef struct ipo_header {
    /* Identity, written once by the creator; attachers check all of it before
     * reading anything else. */
    uint64_t  magic;
    uint32_t  layout_version;
    uint32_t  layout_hash;       /* ipo_layout_hash(): sizes and offsets of these structs */
    uint64_t  total_size;
    uint32_t  state;             /* ipo_region_state */
    uint32_t  creator_pid;
    uint32_t  owner_uid;
    uint32_t  mode;              /* the file mode the creator set */
    uint32_t  slot_count;
    uint32_t  tool_attaches;     /* tools that ever attached (not in attach_count): the death
                                  * watches look at the slot table again when it moves */
    ipo_off_t slots_off;         /* slot_count ipo_slot_t */
    ipo_off_t alloc_off;         /* ipo_alloc_root_t */
    uint64_t  hash_key[2];       /* key of the format's stable hash of str and bytes */
    uint64_t  attach_count;      /* consumers that ever attached */
    uint64_t  next_gen;          /* generation stamped on each new object */
    uint64_t  sleep_tickets;     /* the next slot->sleep_ticket */
    uint64_t  changes;           /* turns that changed shared state, and participants that left */
    uint64_t  takeovers;         /* turns taken over from a holder that died in them */
    uint64_t  hash_key_check;    /* a digest of hash_key: check() tells a changed key */

    /* The access word sits on its own cache line: it is the one word every
     * handoff contends on, and sharing its line would slow the handoff.
     * The only other word there, `line`, is read by releasers only when
     * the word counts sleepers, and written once per wakeup for access. */
    _Alignas(IPO_CACHE_LINE) uint64_t access;
    uint32_t  line;              /* the waiter for access rung: slot + 1, | IPO_LINE_DUE once it came
                                  * back and lost the turn (the next release hands it the turn); 0: none */
    uint32_t  reserved1;
    ipo_off_t channels;          /* the ipo_channel_dir_t, or 0 before the first channel: written
                                  * under access, once per directory change (rare), read by
                                  * ipo_channel_open under access; on this line only because the
                                  * line had room: no handoff reads it */

    _Alignas(IPO_CACHE_LINE) ipo_queue_t queue;
    ipo_turn_note_t note;        /* written only under access */
} ipo_header_t;

/* The layout is an ABI: these assertions fail the build of any change that
 * moves a field, so such a change must also bump IPO_LAYOUT_VERSION. */
_Static_assert(sizeof(ipo_slot_t) == 64, "slot layout");
_Static_assert(offsetof(ipo_slot_t, start_time) == 16, "slot layout");
_Static_assert(offsetof(ipo_slot_t, sleep_ticket) == 32, "slot layout");
_Static_assert(offsetof(ipo_slot_t, sleepers) == 40, "slot layout");
_Static_assert(sizeof(ipo_block_t) == 16, "block header layout");
_Static_assert(sizeof(ipo_free_links_t) == 16, "free links layout");
_Static_assert(sizeof(ipo_queue_t) == 32, "queue layout");
_Static_assert(sizeof(ipo_ring_t) == 16, "ring layout");
_Static_assert(offsetof(ipo_alloc_root_t, sl_bitmap) == 56, "alloc root layout");
_Static_assert(offsetof(ipo_alloc_root_t, free_heads) == 56 + 4 * IPO_ALLOC_FL_COUNT, "alloc root layout");
_Static_assert(offsetof(ipo_header_t, layout_hash) == 12, "header layout");
_Static_assert(offsetof(ipo_header_t, total_size) == 16, "header layout");
_Static_assert(offsetof(ipo_header_t, state) == 24, "header layout");
_Static_assert(offsetof(ipo_header_t, mode) == 36, "header layout");
_Static_assert(offsetof(ipo_header_t, slots_off) == 48, "header layout");
_Static_assert(offsetof(ipo_header_t, hash_key) == 64, "header layout");
_Static_assert(offsetof(ipo_header_t, changes) == 104, "header layout");
_Static_assert(offsetof(ipo_header_t, takeovers) == 112, "header layout");
_Static_assert(offsetof(ipo_header_t, hash_key_check) == 120, "header layout");
_Static_assert(offsetof(ipo_header_t, access) == 128, "header layout");
_Static_assert(offsetof(ipo_header_t, line) == 136, "header layout");
_Static_assert(offsetof(ipo_header_t, channels) == 144, "header layout");
_Static_assert(offsetof(ipo_header_t, queue) == 192, "header layout");
_Static_assert(offsetof(ipo_header_t, note) == 224, "header layout");
_Static_assert(sizeof(ipo_turn_note_t) == 32, "turn note layout");
_Static_assert(sizeof(ipo_channel_entry_t) == 64, "channel directory layout");
_Static_assert(sizeof(ipo_channel_dir_t) == 32, "channel directory layout");
_Static_assert(offsetof(ipo_chan_t, slot_size) == 16, "channel layout");
_Static_assert(offsetof(ipo_chan_t, sender) == 32, "channel layout");
_Static_assert(offsetof(ipo_chan_t, tail) == 64, "channel layout");
_Static_assert(offsetof(ipo_chan_t, head) == 128, "channel layout");
_Static_assert(sizeof(ipo_chan_t) == 192, "channel layout");
_Static_assert(sizeof(ipo_header_t) == 256, "header layout");

/* A digest of the sizes and field offsets above, stored in each header. */
uint32_t ipo_layout_hash(void);

#ifdef __cplusplus
}
#endif

#endif /* IPO_LAYOUT_H */

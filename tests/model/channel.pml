/* tests/model/channel.pml — a channel's single-producer single-consumer ring (core/src/channel.c), for SPIN.
 *
 * A sender publishes M messages through a ring of SLOTS slots; a receiver
 * takes them. The sender waits for a free slot (it loads head), writes the
 * slot in two steps (a copy of more than one word: a reader between them
 * sees a torn message), then publishes the slot by storing tail + 1. The
 * receiver waits for a published slot (it loads tail), reads the slot in
 * two steps, and frees it by storing head + 1. SPIN's interleavings are
 * sequentially consistent; the code keeps each side's program order where
 * it matters with a release store of its index and an acquire load of the
 * other's, which is what this model assumes.
 *
 * Deaths: up to SENDER_DEATHS times the sender dies at any step, and a new
 * sender takes its side over, continuing from the channel's tail (what it
 * was writing and had not published is written over); up to
 * RECEIVER_DEATHS times the receiver dies at any step, holding a message
 * it has read in part or whole but not released, and a new receiver
 * continues from the channel's head (the message is delivered again).
 * Message numbers are places in the channel: a sender writes the number
 * of the slot it fills (its tail), as the C tests do.
 *
 * Checked (assertions): the receiver never reads a slot while the sender
 * writes it; each message released is the next number, whole (both words
 * equal to it): nothing published is lost, repeated or reordered, and no
 * torn message is delivered. Every message is released in the end (a
 * receiver stuck for good is an invalid end state).
 *
 * Broken variants that must fail (`make test-model`): -DBROKEN_ORDER
 * publishes the tail before writing the slot; -DBROKEN_RELEASE frees the
 * slot (head + 1) before reading it. */

#ifndef SLOTS
#define SLOTS 2
#endif
#ifndef M
#define M 4
#endif
#ifndef SENDER_DEATHS
#define SENDER_DEATHS 1
#endif
#ifndef RECEIVER_DEATHS
#define RECEIVER_DEATHS 1
#endif

byte tail = 0;
byte head = 0;
byte word_a[SLOTS];
byte word_b[SLOTS];
bool writing[SLOTS];        /* ghost: the sender is between its first and last write of the slot */
byte released = 0;          /* ghost: messages released, in order */
byte sender_deaths = 0;
byte receiver_deaths = 0;

proctype sender()
{
    byte t, s;
restart:
    t = tail;               /* a new sender starts where the channel is */
    do
    :: t == M -> break
    :: else ->
        /* Wait for a free slot (acquire load of head). */
        (t - head < SLOTS);
        s = t % SLOTS;
#ifdef BROKEN_ORDER
        tail = t + 1;
#endif
        writing[s] = true;
        word_a[s] = t;
        if
        :: sender_deaths < SENDER_DEATHS -> sender_deaths++; writing[s] = false; goto restart
        :: true -> skip
        fi;
        word_b[s] = t;
        writing[s] = false;
        if
        :: sender_deaths < SENDER_DEATHS -> sender_deaths++; goto restart
        :: true -> skip
        fi;
#ifndef BROKEN_ORDER
        tail = t + 1;       /* release store: the slot is whole before it */
#endif
        t++
    od
}

proctype receiver()
{
    byte h, s, a, b;
restart:
    h = head;               /* a new receiver starts where the channel is */
    do
    :: h == M -> break
    :: else ->
        /* Wait for a published slot (acquire load of tail). */
        (tail > h);
        s = h % SLOTS;
#ifdef BROKEN_RELEASE
        head = h + 1;
#endif
        assert(!writing[s]);
        a = word_a[s];
        if
        :: receiver_deaths < RECEIVER_DEATHS -> receiver_deaths++; goto restart
        :: true -> skip
        fi;
        assert(!writing[s]);
        b = word_b[s];
        if
        :: receiver_deaths < RECEIVER_DEATHS -> receiver_deaths++; goto restart
        :: true -> skip
        fi;
        /* Whole, and the next one: none lost, repeated or reordered. */
        assert(a == h && b == h && released == h);
#ifndef BROKEN_RELEASE
        head = h + 1;       /* release store: done reading before it */
#endif
        released++;
        h++
    od;
    assert(released == M)
}

init
{
    atomic {
        run sender();
        run receiver()
    }
}

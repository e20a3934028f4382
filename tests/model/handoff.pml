/* tests/model/handoff.pml — fair turns (loop/src/handoff.c, loop/src/waiter.c): the line and the handed turn, for SPIN.
 *
 * N participants take ROUNDS turns each through a waiter: try (one
 * compare-and-swap on a free word, or claim a turn handed to it), else
 * register in the word, sleep on the doorbell (a channel of one place), and
 * on a ring unregister and try again. A releaser rings a waiter for access
 * only while the line is empty, putting it on the line first; a rung waiter
 * that finds the turn taken marks the line DUE and registers again; the
 * next release reads the line and, if DUE, hands the turn over (the owner
 * field names the waiter, with HANDED) in one step, then clears the line
 * with a compare-and-swap and rings it; if that compare-and-swap fails (the
 * waiter left, clearing the line), it takes the turn back unless it was
 * claimed. A due waiter may also spin for its turn (AWAKE on the line: the
 * handoff rings nobody), then clear AWAKE before it sleeps, and claim a turn
 * handed meanwhile if that clearing finds the line gone.
 *
 * Up to CANCELS times in all, a registered waiter is cancelled instead of
 * sleeping on (a time limit, a cancelled coroutine): it unregisters,
 * leaves the line, and passes on (claims and releases a turn handed to it, or
 * rings the next waiter if the word is free and somebody sleeps); a
 * cancelled participant takes no more turns.
 *
 * Rotation: a release whose run of turns lasted its slice hands the turn
 * to the waiter on the line even if it was only rung (not back, not due
 * yet); it claims it when it comes back, or, if it left meanwhile (the
 * line no longer names it), the releaser takes the turn back.
 *
 * Checked: mutual exclusion (the assertion), and that nobody is left asleep
 * or a turn left handed for good (an invalid end state). Built with
 * -DBROKEN, a releaser whose clearing of the line fails does not take the
 * turn back: SPIN must find the turn handed to a waiter that left, and the
 * others asleep for good; with -DBROKEN_LINE, a releaser does not look
 * whether the waiter it put on the line still waits (a waiter that took
 * the turn and left the line just before keeps it for good, and no release
 * rings anyone again): SPIN must find that too; with -DBROKEN_ROTATION,
 * the rotation's handoff clears the line with a plain store instead of a
 * compare-and-swap, so a waiter rung that left before it came back is
 * handed the turn for good: SPIN must find it (`make test-model`).
 *
 * Not modelled: waits for messages or changes (rung by every release, as
 * in waiter.pml), deaths (takeover.pml; a handed turn is taken over as a
 * held one, the code reading the slot under the flag), the ticket order.
 * Modelled: the stale line. A rung waiter not back after a tick of the
 * coarse clock (a millisecond or so) no longer holds the line, and the
 * next release puts another there and rings it; here any release may find
 * the waiter on the line stale, unless it is due. */

#ifndef N
#define N 3
#endif
#ifndef ROUNDS
#define ROUNDS 1
#endif
#ifndef CANCELS
#define CANCELS 1
#endif

#define DUE 8      /* line: slot + 1, | DUE, | AWAKE */
#define AWAKE 16
#define SLOT 7

byte owner = 0;            /* the owner field: slot + 1, 0 when free */
bool handed = false;       /* IPO_ACCESS_HANDED */
byte sleepers = 0;
byte line = 0;
bool registered[N];
bool pending[N];
chan bell[N] = [1] of { bit };
byte cancels = CANCELS;
byte inside = 0;

inline ring(j)
{
    atomic {
        if
        :: !pending[j] -> pending[j] = true;
            if :: nfull(bell[j]) -> bell[j]!1 :: else -> skip fi
        :: else -> skip
        fi
    }
}

/* wake(): if nobody is on the line (or a rung waiter gone stale), put a
 * registered waiter not rung yet on it and ring it (the first in slot
 * order; the code takes the oldest ticket: the order is not what this
 * model checks). */
inline wake()
{
    if
    :: line & DUE ->   /* due, and the word was freed, not handed: ring it unless it spins */
        atomic { seen_line = line };
        if
        :: (seen_line & DUE) && !(seen_line & AWAKE) -> ring((seen_line & SLOT) - 1)
        :: else -> skip
        fi
    :: !(line & DUE) ->   /* nobody on the line, or a rung waiter (stale, perhaps) */
        j = 0;
        do
        :: j < N && registered[j] && !pending[j] ->  /* the first found (the code: the oldest) */
            atomic {
                if
                :: line == 0 -> line = j + 1; took_line = true
                /* line_take(): a rung waiter not back after a tick of the
                 * clock (here: whenever) is replaced; its ring stays pending. */
                :: line != 0 && !(line & DUE) -> line = j + 1; took_line = true
                :: line != 0 -> took_line = false
                fi
            };
            if
            :: took_line ->
                ring(j);
                /* still waiting? (line_still_waiting: a waiter that took the
                 * turn and left the line before we took it never clears it) */
#ifndef BROKEN_LINE
                atomic {
                    if
                    :: !registered[j] && line == j + 1 -> line = 0; took_line = false
                    :: else -> skip
                    fi
                };
                /* Given back: choose again (rung: pending now, until it
                 * registers again), unless the word is held (its holder's
                 * release rings) or nobody sleeps (choose_again()). */
                if
                :: !took_line ->
                    atomic {
                        if
                        :: owner != 0 || sleepers == 0 -> took_line = true
                        :: else -> j = 0
                        fi
                    };
                    if
                    :: took_line -> break
                    :: else -> skip
                    fi
                :: else -> break
                fi
#else
                break
#endif
            :: else -> break
            fi
        :: j < N && !(registered[j] && !pending[j]) -> j++
        :: j >= N -> break
        od
    :: else -> skip
    fi
}

/* hand_over(): the turn to the waiter the line named (seen_line), in one
 * step; then the line cleared with a compare-and-swap, again while only
 * AWAKE (or, for a waiter rung and not back yet, DUE) changed, and the
 * waiter rung unless it spins; if the line names another (or nobody: the
 * waiter left), the turn taken back unless it was claimed. */
inline hand_over()
{
    to = (seen_line & SLOT);
    atomic { owner = to; handed = true };          /* the compare-and-swap on the word */
    atomic {
        if
#ifndef BROKEN_ROTATION
        :: (line & SLOT) == (seen_line & SLOT) && ((line & DUE) || !(seen_line & DUE)) ->
#else
        :: (seen_line & DUE) && (line & (SLOT | DUE)) == (seen_line & (SLOT | DUE)) ->
#endif
            seen_line = line; line = 0; cleared = true
#ifdef BROKEN_ROTATION
        :: !(seen_line & DUE) -> line = 0; cleared = true   /* a plain store: a waiter that left is not seen */
#endif
        :: else -> cleared = false
        fi
    };
#if !defined(BROKEN_ROTATION_ABA) && !defined(BROKEN_ROTATION)
    /* (Left out with -DBROKEN_ROTATION too, which it would otherwise mend.)
     * A waiter only rung (not due) may have left before the handoff while
     * another releaser's wake() put it on the line again: does it still
     * wait? (A fence on each side: its unregister, then its pass_on's look
     * at the word; our handoff, then this look.) With -DBROKEN_ROTATION_ABA
     * and -DN=3 -DROUNDS=2 SPIN finds the turn handed for good to a
     * cancelled waiter (22 M states, 1.2 GB). */
    if
    :: cleared && !(seen_line & DUE) ->
        atomic {
            if
            :: !registered[to - 1] ->
                cleared = false
            :: else -> skip
            fi
        }
    :: else -> skip
    fi;
#endif
    if
    :: cleared ->
        if
        :: !(seen_line & AWAKE) -> ring(to - 1)
        :: else -> skip
        fi;
        wake()
    :: else ->
#ifndef BROKEN
        atomic {
            if
            :: owner == to && handed -> owner = 0; handed = false; back = true
            :: else -> back = false
            fi;
            had = sleepers
        };
        if
        :: back && had > 0 -> wake()
        :: else -> skip
        fi
#else
        skip
#endif
    fi
}

inline plain_release()
{
    atomic { owner = 0; had = sleepers };
    if
    :: had > 0 -> wake()
    :: else -> skip
    fi
}

/* ipo_handoff_release(): a due waiter is handed the turn; a waiter rung and
 * not back yet is handed it when the releaser's run of turns has lasted its
 * slice (rotation: a nondeterministic choice here, the clock in the code). */
inline release()
{
    atomic { seen_line = line; had = sleepers };
    if
    :: (seen_line & DUE) && had > 0 && (seen_line & SLOT) - 1 != me -> hand_over()
    :: seen_line != 0 && !(seen_line & DUE) && had > 0 && (seen_line & SLOT) - 1 != me ->
        if
        :: hand_over()       /* the run lasted a slice */
        :: plain_release()   /* not yet */
        fi
    :: else -> plain_release()
    fi
}

/* A claim of a handed turn, then one compare-and-swap on a free word. */
inline try_take()
{
    atomic {
        if
        :: owner == me + 1 && handed -> handed = false; took = true
        :: owner == 0 -> owner = me + 1; took = true
        :: else -> took = false
        fi
    }
}

inline leave_line()
{
    atomic {
        if
        :: (line & SLOT) == me + 1 -> line = 0
        :: else -> skip
        fi
    }
}

inline register()
{
    pending[me] = false;
    atomic { registered[me] = true; sleepers++; over = (owner == 0 || (owner == me + 1 && handed)) }
}

inline unregister()
{
    atomic { registered[me] = false; sleepers-- };
    if :: nempty(bell[me]) -> bell[me]?_ :: else -> skip fi
}

/* ipo__handoff_pass_on(). */
inline pass_on()
{
    atomic {
        if
        :: owner == me + 1 && handed -> handed = false; took = true
        :: else -> took = false
        fi
    };
    if
    :: took ->
        atomic { inside++; assert(inside == 1); inside-- };  /* held, for a moment */
        release()
    :: else ->
        atomic { free = (owner == 0); had = sleepers };
        if
        :: free && had > 0 -> wake()
        :: else -> skip
        fi
    fi
}

proctype participant(byte me)
{
    byte round = 0, to, seen_line, had, j;
    bool took, over, cleared, back, free, took_line, due, gone = false;
    do
    :: round < ROUNDS && !gone ->
        due = false;
        try_take();
        do
        :: took -> break
        :: else ->
            register();
            /* On the line already (a releaser took it for us, and its ring
             * was coalesced with one we read before registering): due. */
            atomic {
                if
                :: (line & SLOT) == me + 1 -> line = line | DUE; due = true
                :: else -> skip
                fi
            };
            /* Over as we registered: look again, awake, still registered
             * (step() in waiter.c); not let in, sleep. */
            if
            :: over ->
                try_take();
                if
                :: took -> unregister(); break
                :: else -> skip
                fi
            :: else -> skip
            fi;
            /* A due waiter spins a while (AWAKE), then says it sleeps, and
             * looks once more: off the line by then, it may hold a turn
             * handed without a ring, or the word may have been freed. */
            if
            :: due ->
                atomic { if :: (line & (SLOT | DUE)) == ((me + 1) | DUE) -> line = line | AWAKE :: else -> skip fi };
                try_take();
                if
                :: took -> unregister(); break
                :: else -> skip
                fi;
                atomic { if :: (line & (SLOT | DUE)) == ((me + 1) | DUE) -> line = line & ~AWAKE :: else -> skip fi };
                try_take();
                if
                :: took -> unregister(); break
                :: else -> skip
                fi
            :: else -> skip
            fi;
            if
            :: bell[me]?_ ->   /* rung */
                unregister();
                try_take();
                if
                :: !took ->   /* the turn was taken: due, if we were the one rung */
                    atomic {
                        if
                        :: (line & SLOT) == me + 1 -> line = line | DUE; due = true
                        :: else -> skip
                        fi
                    }
                :: else -> skip
                fi
            :: atomic { cancels > 0 -> cancels-- } ->
                unregister();
                leave_line();   /* after: see line_still_waiting() */
                pass_on();
                gone = true;
                break
            fi
        od;
        if
        :: gone -> break
        :: else -> skip
        fi;
        /* the turn */
        leave_line();
        atomic { inside++; assert(inside == 1) };
        atomic { inside-- };
        release();
        round++
    :: else -> break
    od
}

init
{
    byte i = 0;
    atomic {
        do
        :: i < N -> run participant(i); i++
        :: else -> break
        od
    }
}

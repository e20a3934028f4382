/* tests/model/waiter.pml — the waiter (loop/src/waiter.c) and the handoff it drives (loop/src/handoff.c), for SPIN.
 *
 * N participants take ROUNDS turns each, every one through a waiter: try,
 * register in the access word (one atomic step together with reading the
 * word, as the read-modify-write does), look at that word, sleep until the
 * doorbell (a channel of one place: a full one is "rung already") is
 * readable, then unregister (reading the doorbell) and try again. A release
 * clears the owner and reads the sleeper count in one atomic step; if there
 * are sleepers it scans the slots (one read per step, as the C loop does)
 * and rings the waiter with the oldest ticket among those not rung yet,
 * through the pending flag that coalesces rings. Plain loads and stores are
 * separate steps, so SPIN tries every interleaving of them.
 *
 * The event-loop use: while asleep, or once rung, a waiter may be cancelled
 * (a coroutine cancelled, a time limit, a libuv watcher stopped) instead of
 * trying; up to CANCELS waiters in all. A cancelled participant gives up its
 * remaining turns and ends, so nobody is left to take a ring meant for it:
 * the waiter must pass it on (ipo_waiter_cancel). Up to LOOKS times in all,
 * a waiter also "looks" without being rung (an event loop calling
 * readable() for its own reasons, or a poke): unregister, try, pass on,
 * register again. Both are budgets, not free choices, so that a waiter left
 * asleep with neither left is blocked, and a lost wakeup shows.
 *
 * With TWO_IN_ONE, participant 0 is a process with two waiters (a thread and
 * an event loop, say) on its one slot and doorbell: the slot's waiting flag
 * counts both, and a waiter that reads the doorbell passes what it read to
 * the other's eventfd (ipo__sleeper_unregister), which it also sleeps on.
 *
 * With IDLER, one more participant sleeps for messages that never come: its
 * registration changes the word while the others compare-and-swap it.
 *
 * Checked: mutual exclusion (the assertion), and no lost wakeup: a waiter
 * blocked forever is an invalid end state, which SPIN reports. Built with
 * -DBROKEN, a cancelled waiter does not pass on; with -DBROKEN_TRY, a
 * compare-and-swap that failed only because a sleeper came reads as
 * "held"; SPIN must find the lost wakeup each leads to: `make test-model`
 * runs the model and both broken variants.
 *
 * Not modelled: waits for messages that come, and for a release (a waiter
 * rung for those is one of all that are rung, and leaves by the same
 * pass-on as a cancel when it then wants something else); a change of what
 * a sleeping waiter wants (it unregisters and passes on, as a cancel does,
 * then registers as a new sleeper); a peer gone (ring() reports it and the
 * next oldest is rung); the acquisition count (a compare-and-swap it would
 * fail reloads and retries like a sleeper's). A full N=3 x 2 turns without
 * budgets exceeds 20 GB of states. */

#ifndef N
#define N 3
#endif
#ifndef ROUNDS
#define ROUNDS 1
#endif
#ifndef CANCELS
#define CANCELS 1
#endif
#ifndef LOOKS
#define LOOKS 1
#endif

#ifdef TWO_IN_ONE
#define WAITERS (N + 1)   /* waiter N is the second waiter of slot 0 */
#else
#define WAITERS N
#endif

byte owner = 0;              /* the access word's owner field: slot + 1, 0 when free */
byte sleepers = 0;           /* the access word's sleeper count */
byte waiting[N];             /* slot.waiting_for & ACCESS, as the waker's count of its waiters */
byte ticket[N];              /* slot.sleep_ticket */
byte next_ticket = 0;        /* header.sleep_tickets */
bool pending[N];             /* slot.wake_pending */
chan bell[N] = [1] of { bit };
chan efd[WAITERS] = [1] of { bit };   /* each waiter's eventfd */
bool passed[WAITERS];        /* sleeper.passed: a ring was written to its eventfd while it
                                was registered (under the lock); only then is the eventfd read */
bool registered[WAITERS];    /* the waker's list of registered sleepers */
bool lock[N];                /* the waker's mutex (one per process) */
byte cancels = CANCELS;
byte looks = LOOKS;
byte inside = 0;

inline ring(j)
{
    /* compare-and-swap pending 0 -> 1, then one non-blocking write */
    atomic {
        if
        :: !pending[j] -> pending[j] = true; rang = true
        :: else -> rang = false
        fi
    }
    if
    :: rang -> atomic { if :: nfull(bell[j]) -> bell[j]!1 :: else -> skip fi }
    :: else -> skip
    fi
}

/* wake(): the oldest waiter for access that is not rung yet. Each slot's
 * waiting_for, wake_pending and sleep_ticket are read one at a time, as
 * the C loop does, and the oldest ticket seen is kept, not read again. */
inline wake()
{
    best = N; j = 0;
    do
    :: j < N ->
        seen_waiting = waiting[j];
        if
        :: seen_waiting > 0 ->
            seen_pending = pending[j];
            if
            :: !seen_pending ->
                seen_ticket = ticket[j];
                if
                :: best == N || seen_ticket < best_ticket -> best = j; best_ticket = seen_ticket
                :: else -> skip
                fi
            :: else -> skip
            fi
        :: else -> skip
        fi;
        j++
    :: else -> break
    od;
    if
    :: best < N -> ring(best)
    :: else -> skip
    fi
}

inline release()
{
    atomic { owner = 0; had = sleepers }   /* the fetch-and returns the old word */
    if
    :: had > 0 -> wake()
    :: else -> skip
    fi
}

/* ipo__handoff_pass_on: one load of the word, then maybe wake(). */
inline pass_on()
{
    atomic { free = (owner == 0); had = sleepers };
    if
    :: free && had > 0 ->
#ifndef BROKEN
        wake()
#else
        skip
#endif
    :: else -> skip
    fi
}

/* ipo_access_try_acquire: load the word, then compare-and-swap the whole
 * word (owner and sleeper count), which fails if a sleeper came or went
 * meanwhile; while the owner stays free, load again and retry. With
 * BROKEN_TRY, a failed swap reads as "held" (what the code once did). */
inline try_take()
{
    atomic { seen_owner = owner; seen_sleepers = sleepers };
    do
    :: seen_owner != 0 -> took = false; break
    :: else ->
        atomic {
            if
            :: owner == seen_owner && sleepers == seen_sleepers -> owner = slot + 1; took = true
            :: else -> seen_owner = owner; seen_sleepers = sleepers; took = false
            fi
        };
        if
        :: took -> break
#ifdef BROKEN_TRY
        :: else -> break
#else
        :: else -> skip
#endif
        fi
    od
}

/* ipo__sleeper_register: publish, take a ticket if new, clear pending,
 * count ourselves in the word and read it. */
inline register()
{
    atomic { !lock[slot] -> lock[slot] = true };
    registered[me] = true;
    waiting[slot]++;
    if
    :: !in_line -> atomic { ticket[slot] = next_ticket; next_ticket++ }; in_line = true
    :: else -> skip
    fi;
    lock[slot] = false;
    pending[slot] = false;
    atomic { sleepers++; over = (owner == 0) }
}

/* ipo__sleeper_unregister: leave the list and the word, then read the
 * doorbell (handing what was read to the other registered waiter of the
 * slot, and marking it passed) and, if a ring was passed to us while we
 * were registered, our eventfd. */
inline unregister()
{
    atomic { !lock[slot] -> lock[slot] = true };
    if
    :: registered[me] ->
        registered[me] = false;
        waiting[slot]--;
        atomic { sleepers-- }
    :: else -> skip
    fi;
    got = false;
    do
    :: atomic { nempty(bell[slot]) -> bell[slot]?_; got = true }
    :: empty(bell[slot]) -> break
    od;
#ifdef TWO_IN_ONE
    if
    :: got && slot == 0 && registered[other] ->
        passed[other] = true;
        atomic { if :: nfull(efd[other]) -> efd[other]!1 :: else -> skip fi }
    :: else -> skip
    fi;
#endif
    mine = passed[me];
    passed[me] = false;
    lock[slot] = false;
    if
    :: mine ->
        do
        :: atomic { nempty(efd[me]) -> efd[me]?_ }
        :: empty(efd[me]) -> break
        od
    :: else -> skip
    fi
}

proctype waiter(byte me; byte slot; byte other)
{
    byte round = 0, had, best, j, seen_owner, seen_sleepers, seen_waiting, seen_ticket, best_ticket;
    bool in_line, over, took, rang, free, got, seen_pending, mine;
    do
    :: round < ROUNDS ->
        /* ipo_waiter_start: a new wait, a new place in line */
        in_line = false;
        try_take();
        if
        :: took -> goto critical
        :: else -> skip
        fi;
step:
        /* step(): registered for this already, sleep; else register and look */
        if
        :: registered[me] -> goto sleep
        :: else -> skip
        fi;
        register();
        if
        :: !over -> goto sleep
        :: else -> skip
        fi;
        try_take();                       /* over as we registered: look again, awake */
        if
        :: took -> goto critical
        :: else -> goto step
        fi;
sleep:
        if
        :: atomic { nempty(bell[slot]) -> skip }       /* poll(): the doorbell is readable */
        :: atomic { nempty(efd[me]) -> skip }          /* ... or our eventfd */
        :: atomic { cancels > 0 -> cancels-- }; goto cancel
        :: atomic { looks > 0 -> looks-- }             /* a look of the loop's own */
        fi;
        /* ipo_waiter_readable */
        unregister();
        try_take();
        if
        :: took -> goto critical
        :: else -> goto step
        fi;
cancel:
        /* ipo_waiter_cancel, and the participant gives up */
        unregister();
        pass_on();
        goto done;
critical:
        /* finish(HELD): a waiter still registered leaves the word */
        if
        :: registered[me] -> unregister()
        :: else -> skip
        fi;
        inside++;
        assert(inside == 1);
        inside--;
        release();
        round++
    :: round == ROUNDS -> break
    od;
done:
    skip
}

#ifdef IDLER
/* A participant of its own slot that waits for messages which never come
 * (a service idle between requests): registered in the word for good. It
 * is never rung (no message is put, and a pass-on rings only waiters for
 * access), and staying asleep is a valid end for it; but its registration
 * changes the word under the others' compare-and-swap. */
chan idler_bell = [1] of { bit };
proctype idler()
{
    atomic { sleepers++ };
end_idle:
    idler_bell?_
}
#endif

init
{
    byte k;
    atomic {
        for (k : 0 .. N - 1) {
            run waiter(k, k, N)
        }
#ifdef TWO_IN_ONE
        run waiter(N, 0, 0)
#endif
#ifdef IDLER
        run idler()
#endif
    }
}

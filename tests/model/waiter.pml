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
 * The line (fair turns, loop/src/handoff.c): a release rings a waiter for
 * access only while the line is 0, putting it on the line first (a
 * compare-and-swap), then looks whether it still waits and, if not, gives
 * the line back and chooses again. A waiter rung and not let in marks the
 * line DUE if it names it, and so does one that finds itself on the line
 * once registered (its ring coalesced with one it read before). A release
 * with sleepers that finds another slot DUE hands it the turn (the owner
 * field names it, HANDED), clears the line with a compare-and-swap and
 * rings it, or takes the turn back if that clearing fails (the waiter left)
 * and nobody claimed it; a release that frees the word while the line is
 * DUE rings that waiter. Waiters claim a turn handed to their slot before
 * anything else; a waiter that ends its wait leaves the line (after
 * unregistering), and one cancelled claims and releases a turn handed to
 * it. With ROTATION, a release may also hand the turn to a waiter rung and
 * not back yet (a run that lasted its slice). Not here: the due waiter's
 * spin (AWAKE) and the stale line, which handoff.pml and the C tests cover.
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
 * blocked forever (or a turn handed for good) is an invalid end state,
 * which SPIN reports. Built with -DBROKEN, a cancelled waiter does not pass
 * on; with -DBROKEN_TRY, a compare-and-swap that failed only because a
 * sleeper came reads as "held"; with -DBROKEN_LINE_CANCEL, a cancelled
 * waiter does not leave the line (a waiter rung for a turn it will never
 * take keeps every later release from ringing anyone); with -DBROKEN_CAP,
 * wake() stops choosing again after a bound, as the code once did (see
 * wake()); SPIN must find the lost wakeup each leads to: `make test-model` runs the model and the
 * broken variants. -DBROKEN_DUE (a waiter does not look at the line once
 * registered) is not among them: SPIN finds nothing it loses with two
 * participants (the coalesced ring it would miss takes a third to ring the
 * waiter between a releaser's look at its pending flag and its ring), and
 * three with every budget did not finish in 10 minutes and 5 GB.
 *
 * Not modelled: waits for messages that come, and for a release (a waiter
 * rung for those is one of all that are rung, and leaves by the same
 * pass-on as a cancel when it then wants something else); a change of what
 * a sleeping waiter wants (it unregisters and passes on, as a cancel does,
 * then registers as a new sleeper); a peer gone (ring() reports it and the
 * next oldest is rung); the acquisition count (a compare-and-swap it would
 * fail reloads and retries like a sleeper's). A full N=3 x 2 turns without
 * budgets exceeds 20 GB of states; with the line, N=3 x 1 turn with every
 * budget exceeds 5 GB (and N=2 with TWO_IN_ONE passed 1 GB unfinished),
 * so `make test-model` checks two participants, and two waiters of one
 * process (N=1 with TWO_IN_ONE), safe, and three only in the broken
 * variants, which fail within a few million states. */

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

#define DUE 8
#define SLOT 7

#ifdef TWO_IN_ONE
#define WAITERS (N + 1)   /* waiter N is the second waiter of slot 0 */
#else
#define WAITERS N
#endif

byte owner = 0;              /* the access word's owner field: slot + 1, 0 when free */
bool handed = false;         /* ... with IPO_ACCESS_HANDED: handed to that slot, not claimed */
byte line = 0;               /* header.line: slot + 1 of the waiter rung for access, | DUE */
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

/* wake(): one waiter for access on its way at a time. The line is read
 * once: DUE, its waiter is rung (the word was freed, not handed: it
 * registered after the release looked); someone else on it, nobody is
 * rung; empty, the oldest waiter for access not rung yet is chosen (each
 * slot's waiting_for, wake_pending and sleep_ticket read one at a time, as
 * the C loop does, the oldest ticket seen kept, not read again), put on
 * the line with a compare-and-swap from 0, and rung; then, if it no longer
 * waits (line_still_waiting), the line is given back unless it changed and
 * another is chosen, unless the word, looked at after the line went back,
 * is held (its holder's release rings) or has no sleeper. That is the only
 * stop: the code once stopped after 4 x slots choices, and with such a
 * bound (-DBROKEN_CAP, a bound of 1) SPIN finds a wakeup lost (a release
 * that found the line taken by a waker about to give it back rang nobody,
 * and the waker stopped). Each choice again needs a waiter that registered
 * (after its last ring) and unregistered again while the word stayed free,
 * so the loop runs only while others come and go without taking the turn. */
inline wake()
{
    seen_line = line;
    if
    :: seen_line & DUE -> ring((seen_line & SLOT) - 1)
    :: seen_line != 0 && !(seen_line & DUE) -> skip
    :: seen_line == 0 ->
        do
        :: true ->
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
            :: best == N -> break
            :: else -> skip
            fi;
            /* line_take() */
            atomic {
                if
                :: line == 0 -> line = best + 1; took_line = true
                :: else -> took_line = false
                fi
            };
            if
            :: !took_line -> break
            :: else -> skip
            fi;
            ring(best);
            /* line_still_waiting(): waiting_for, then the line given back
             * with a compare-and-swap (a waiter due by now keeps it) */
            seen_waiting = waiting[best];
            if
            :: seen_waiting > 0 -> break
            :: else -> skip
            fi;
            atomic {
                if
                :: line == best + 1 -> line = 0; took_line = false
                :: else -> skip
                fi
            };
            if
            :: took_line -> break
            :: else -> skip
            fi;
#ifdef BROKEN_CAP
            /* The old bound on choices: with a bound of 1 (the code's was
             * 4 x slots) a release that found the line taken by this waker
             * rang nobody, and the waker stops: lost. */
            choices++;
            if
            :: choices >= 1 -> break
            :: else -> skip
            fi;
#endif
            /* choose_again(): the word, after the line went back to 0 (a
             * full fence between): held (or handed), its holder's release
             * rings (it loads the line after its release, a full fence
             * between, and finds it 0); no sleeper, nobody to ring. Only a
             * free word with sleepers makes us choose again. */
            atomic {
                if
                :: owner != 0 || sleepers == 0 -> took_line = true
                :: else -> skip
                fi
            };
            if
            :: took_line -> break
            :: else -> skip
            fi
        od
    fi;
    j = 0; best = N; best_ticket = 0; seen_waiting = 0; seen_pending = false; seen_ticket = 0;
    seen_line = 0; took_line = false;
#ifdef BROKEN_CAP
    choices = 0
#endif
}

/* line_drop(): our slot off the line, if it is on it. */
inline leave_line()
{
    atomic {
        if
        :: (line & SLOT) == slot + 1 -> line = 0
        :: else -> skip
        fi
    }
}

/* ipo__line_due(): on the line (rung, or chosen and the ring coalesced with
 * one read before), the waiter is due: it marks DUE. */
inline line_due()
{
    atomic {
        if
        :: (line & SLOT) == slot + 1 -> line = line | DUE; due = true
        :: else -> due = false
        fi
    }
}

/* hand_over(): the turn to the waiter the line names (seen_line): the
 * owner field names it, HANDED, in one step (under a holder only sleepers
 * change the word, so the compare-and-swap loop ends); then the line back
 * to 0 with a compare-and-swap from what was read (again while only DUE
 * was added: the same waiter), and the waiter rung; if the line names
 * another, or nobody (the waiter left), or lost DUE, the turn is taken back
 * unless it was claimed. */
inline hand_over()
{
    to = (seen_line & SLOT);
    atomic { owner = to; handed = true };
    do
    :: atomic {
        if
        :: line == seen_line -> line = 0; cleared = true; break
        :: line != seen_line && (line & SLOT) == to && (line & DUE) -> seen_line = line
        :: else -> cleared = false; break
        fi
       }
    od;
    if
    :: cleared -> ring(to - 1); wake()
    :: else ->
        /* take_back() */
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
    fi;
    to = 0; cleared = false; back = false
}

/* ipo_handoff_release(): with sleepers, the line is read; a due waiter of
 * another slot is handed the turn (with ROTATION, also one rung and not
 * back yet, when the run lasted its slice); else the word is freed,
 * reading the sleeper count in the same step (the fetch-and), and wake()
 * rings. */
inline release()
{
    had = sleepers;
    handing = false;
    if
    :: had > 0 ->
        seen_line = line;
        if
        :: (seen_line & DUE) && (seen_line & SLOT) != slot + 1 -> handing = true
        :: (seen_line & DUE) && (seen_line & SLOT) == slot + 1 -> leave_line()   /* ours: nobody to hand to */
#ifdef ROTATION
        :: seen_line != 0 && !(seen_line & DUE) && (seen_line & SLOT) != slot + 1 -> handing = true
        :: seen_line != 0 && !(seen_line & DUE) && (seen_line & SLOT) == slot + 1 -> leave_line()
#endif
        :: else -> skip
        fi
    :: else -> skip
    fi;
    if
    :: handing -> hand_over()
    :: else ->
        atomic { owner = 0; had = sleepers };
        if
        :: had > 0 -> wake()
        :: else -> skip
        fi
    fi;
    handing = false; seen_line = 0; had = 0
}

/* ipo__handoff_pass_on: a turn handed to this slot is claimed and released
 * (which hands it on or frees it); else one load of the word, then maybe
 * wake(). */
inline pass_on()
{
    claim();
    if
    :: took ->
        atomic { inside++; assert(inside == 1) };
        atomic { inside-- };
        release();
        took = false
    :: else ->
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
    fi
}

/* ipo_access_claim(): a turn handed to this slot, taken with one
 * compare-and-swap (HANDED cleared). */
inline claim()
{
    atomic {
        if
        :: owner == slot + 1 && handed -> handed = false; took = true
        :: else -> took = false
        fi
    }
}

/* ipo_access_try_acquire: load the word, then compare-and-swap the whole
 * word (owner and sleeper count), which fails if a sleeper came or went
 * meanwhile; while the owner stays free, load again and retry. With
 * BROKEN_TRY, a failed swap reads as "held" (what the code once did).
 * A turn handed to this slot is claimed first (ipo_access_claim). */
inline try_take()
{
    claim();              /* a turn handed to this slot first: it is nobody else's */
    if
    :: !took ->
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
        od;
        seen_owner = 0; seen_sleepers = 0
    :: else -> skip
    fi
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
    atomic { sleepers++; over = (owner == 0 || (owner == slot + 1 && handed)) }
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
    byte seen_line, to;
    bool in_line, over, took, rang, free, got, seen_pending, mine;
    bool due, handing, cleared, back, took_line;
#ifdef BROKEN_CAP
    byte choices = 0;
#endif
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
        :: !over ->
            /* On the line already (a releaser chose us and its ring was
             * coalesced with one we read before registering): due. With
             * BROKEN_DUE, not looked at. */
#ifndef BROKEN_DUE
            if
            :: !due -> line_due()
            :: else -> skip
            fi;
#endif
            goto sleep
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
        /* ipo_waiter_readable: not let in, due if the line names us */
        unregister();
        try_take();
        if
        :: took -> goto critical
        :: else -> line_due(); goto step
        fi;
cancel:
        /* ipo_waiter_cancel, and the participant gives up: off the line
         * (with BROKEN_LINE_CANCEL, not), then the ring passed on */
        unregister();
#ifndef BROKEN_LINE_CANCEL
        leave_line();
#endif
        due = false;
        pass_on();
        goto done;
critical:
        /* finish(HELD): a waiter still registered leaves the word, then the
         * line if it was on it */
        if
        :: registered[me] -> unregister()
        :: else -> skip
        fi;
        if
        :: due || line != 0 -> leave_line()
        :: else -> skip
        fi;
        due = false;
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

/* tests/model/takeover.pml — taking access over from a holder that died (loop/src/waiter.c, loop/src/handoff.c, core/src/recover.c), for SPIN.
 *
 * N processes take ROUNDS turns each. The access word holds the owner
 * (slot + 1, 0 when free), the count of sleepers and the acquisition count;
 * acquiring is one compare-and-swap from "free" that also counts the
 * acquisition; releasing clears the owner and reads the sleeper count in one
 * atomic step (the atomic AND returns the old word) and, if there are
 * sleepers, rings one: it sets that waiter's wake_pending flag, then writes
 * its doorbell (a channel of one place: a full one is "rung already"), two
 * steps. A waiter that finds access held registers in the word (one atomic
 * step that also reads the word) and looks again, then sleeps until its
 * doorbell is readable OR its death watch is: the pidfds of the other
 * participants, one of which is readable once that process has died. On any
 * wake it unregisters and looks again: free, it tries the compare-and-swap;
 * held by a dead owner (its pidfd is readable), it takes access over with a
 * compare-and-swap from the exact owner and count it saw to (itself,
 * count + 1), and only then repairs; held by a live one, it registers and
 * sleeps again. A waiter stops watching the deaths it has woken for (a
 * pidfd stays readable), so a death wakes each sleeper once.
 *
 * The line (fair turns, loop/src/handoff.c; handoff.pml checks it without
 * deaths): a release with sleepers reads the line; if it names another
 * process DUE, the turn is handed to it (the owner field names it, HANDED,
 * and the count moves, in one step), the line goes back to 0 with a
 * compare-and-swap and the waiter is rung; a failed clearing, or a doorbell
 * that says its reader is gone, takes the turn back unless it was claimed.
 * Otherwise the word is freed and a waiter is rung only while the line is
 * 0, after putting it there; one that is DUE is rung instead. A waiter
 * claims a turn handed to it before anything else; rung and not let in, it
 * marks the line DUE if the line names it (and so once registered, for a
 * ring that coalesced); a death it wakes for frees the line (the waiter on
 * it may be the dead one). A turn handed to a process that then dies is
 * taken over as a dead holder's: the takeover's compare-and-swap is from
 * the owner field as seen, HANDED included.
 *
 * Crashes: a process killed by the kernel stops between any two of its
 * steps, and its pidfd becomes readable at the same instant (dead[p] is
 * set, atomically with the end, by the killer process; `unless` stops the
 * victim before its next step). Up to CRASHES processes die, each somewhere
 * between its acquisition and the end of its release: in its turn, during
 * the repair after a takeover, after clearing the owner and before ringing,
 * between a ring's pending flag and its doorbell write, after handing the
 * turn over and before clearing the line or ringing. Waiters die too: one
 * on the line (rung, or due), or handed a turn it has not claimed, anywhere
 * in its wait (its registration stays in the word until a takeover's
 * repair, or for good: releases pass it over). A stopped (SIGSTOP)
 * process is simply one that takes no step for a while, which SPIN tries
 * everywhere: it is alive, and must never be robbed.
 *
 * Checked: mutual exclusion among live processes (the assertion: a dead
 * holder's turn may be taken over, since it can no longer act); no lost
 * wakeup and takeover progress: a live waiter left blocked for good (its
 * ring lost, or a dead owner never replaced) is an invalid end state, which
 * SPIN reports, as in waiter.pml. Two broken variants must fail, and
 * `make test-model` checks that they do: with -DBROKEN a waiter that wakes
 * on a time limit (LIMITS of them in all) takes access over from an owner
 * that is alive but slow (stopped), and SPIN finds two live holders; with
 * -DBROKEN_WATCH sleepers watch no deaths (only their doorbells, as before
 * takeover was built), and SPIN finds waiters asleep for good behind a dead
 * holder or behind a releaser that died before ringing; with
 * -DBROKEN_HANDED a takeover takes an owner field that says HANDED for
 * nobody's (a turn not claimed yet), so a turn handed to a process that
 * died before claiming it is never taken over, and SPIN finds the others
 * asleep for good (it needs a process left to want a turn after the
 * handoff: N=2 x 3 turns).
 *
 * Steps: what a death can separate is kept apart (the acquisition, leaving
 * the word once holding, the repair, the release's AND, its pending flag,
 * its doorbell write). Registering and waking are one step each: how they
 * interleave with a release is waiter.pml's to check, with every load and
 * store apart, and merging them here keeps the state space small (N=3 x 1
 * turn, one crash: 8.5 M states with the line; 7.9 M with -DWAITER_DEATHS=0;
 * two crashes: 18 M, not in `make test-model`).
 *
 * Not modelled: waiters that die off the line (a release skips a dead
 * waiter, as the ENXIO of its doorbell makes the code do), the stale line
 * (a rung waiter not back in LINE_STALE_MS no longer holds it: a dead one on
 * it is freed by the death watches and by a handoff's take-back), rotation
 * (handoff.pml), the order of the wakeups
 * (one sleeper is rung, whichever), what the repair does beyond taking back
 * the dead holder's registration in the word (one step, which a death may
 * cut: the next taker repairs again), and a new process in a dead one's
 * slot: the count in the takeover's swap is what tells that process's
 * turns apart from the dead one's, so here, where a dead owner never comes
 * back, the count is kept modulo 4 only to stay faithful to the swap. */

#ifndef N
#define N 3
#endif
#ifndef ROUNDS
#define ROUNDS 1
#endif
#ifndef CRASHES
#define CRASHES 1
#endif
#ifndef LIMITS
#define LIMITS 1
#endif
#ifndef WAITER_DEATHS
#define WAITER_DEATHS 1   /* 0: only holders and releasers die (a smaller state space) */
#endif

#define DUE 8
#define SLOT 7

#ifdef BROKEN_HANDED
#define TAKES_HANDED (!seen_handed)   /* a handed turn taken for nobody's */
#else
#define TAKES_HANDED true
#endif

byte owner = 0;          /* the word's owner: slot + 1, 0 when free */
bool handed = false;     /* ... with IPO_ACCESS_HANDED: handed to that slot, not claimed */
byte line = 0;           /* header.line: slot + 1 of the waiter rung for access, | DUE */
byte count = 0;          /* the word's acquisition count */
byte sleepers = 0;       /* the word's sleeper count */
bool waiting[N];         /* slot.waiting_for & ACCESS */
bool pending[N];         /* slot.wake_pending */
chan bell[N] = [1] of { bit };
bool dead[N];            /* the pidfd of process p is readable */
byte deaths = 0;         /* bit p: dead[p], for the death watches */
bool window[N];          /* p holds access, or is still releasing it: where a crash is tried */
bool in_turn[N];         /* p believes it holds access */
byte crashes = CRASHES;
byte limits = LIMITS;
byte takeovers = 0;

/* No two live processes in their turns. */
inline check_exclusive()
{
    for (j : 0 .. N - 1) {
        assert(j == me || !in_turn[j] || dead[j])
    }
}

/* wake(): one waiter for access on its way at a time (the line). DUE: the
 * word was freed, not handed (the waiter registered after the release
 * looked): ring it. Someone else on it: nobody. Empty: the first waiting
 * one not rung yet is put on the line and rung (the code takes the oldest
 * ticket: the order is not what this model checks). The choice, the line
 * and the pending flag are one step here (how a scan interleaves with
 * registrations is waiter.pml's; a waiter chosen is registered, so
 * line_still_waiting holds); the doorbell write is another, and a crash
 * may come between. A dead waiter's doorbell reports it gone (ENXIO): a
 * dead one on the line is not rung, and none is chosen. */
inline wake()
{
    atomic {
        j = N;
        if
        :: line & DUE ->
            q = (line & SLOT) - 1;
            if
            :: !dead[q] && !pending[q] -> pending[q] = true; j = q
            :: else -> skip
            fi
        :: line != 0 && !(line & DUE) -> skip
        :: line == 0 ->
            q = 0;
            do
            :: q < N && !(waiting[q] && !pending[q] && !dead[q]) -> q++
            :: q < N && waiting[q] && !pending[q] && !dead[q] -> pending[q] = true; line = q + 1; j = q; break
            :: q == N -> break
            od
        fi;
        q = 0
    };
    if
    :: j < N -> atomic { if :: nfull(bell[j]) -> bell[j]!1 :: else -> skip fi; j = 0 }
    :: else -> j = 0
    fi
}

/* hand_over(): the turn to the due waiter on the line (seen_line). The
 * word names it, HANDED, and counts the acquisition, in one step: this
 * process's turn ends there. Then the line back to 0 with a compare-and-
 * swap from what was read, and the waiter rung (pending, then the
 * doorbell); if the line changed (the waiter left, or a death watch
 * cleared it), or the doorbell says gone, the turn is taken back unless it
 * was claimed (or taken over). A crash may come between any two: the
 * handed turn is then claimed by its recipient, or taken over if it is
 * dead too. */
inline hand_over()
{
    to = seen_line & SLOT;
    atomic { in_turn[me] = false; owner = to; handed = true; count = (count + 1) % 4 };
    atomic {
        if
        :: line == seen_line -> line = 0; cleared = true
        :: else -> cleared = false
        fi
    };
    if
    :: cleared && !dead[to - 1] ->
        atomic { if :: !pending[to - 1] -> pending[to - 1] = true; rang = true :: else -> rang = false fi };
        if
        :: rang -> atomic { if :: nfull(bell[to - 1]) -> bell[to - 1]!1 :: else -> skip fi; rang = false }
        :: else -> skip
        fi;
        atomic { had = sleepers };
        if
        :: had > 0 -> wake()
        :: else -> skip
        fi
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
    atomic { to = 0; cleared = false; back = false; window[me] = false }
}

/* The release: with sleepers, the line is read; a due waiter (not this
 * process) is handed the turn. Else clear the owner and read the sleepers
 * (the atomic AND), then wake(). A crash may come between any two steps. */
inline release()
{
    atomic { seen_line = line; had = sleepers };
    if
    :: had > 0 && (seen_line & DUE) && (seen_line & SLOT) != me + 1 -> hand_over()
    :: else ->
        atomic { in_turn[me] = false; owner = 0; had = sleepers };
        if
        :: had > 0 -> wake()
        :: else -> skip
        fi;
        window[me] = false
    fi;
    seen_line = 0; had = 0
}

/* ipo__line_due(): on the line (rung, or chosen with a ring coalesced with
 * one read before), the waiter is due. */
inline line_due()
{
    atomic {
        if
        :: (line & SLOT) == me + 1 -> line = line | DUE; due = true
        :: else -> due = false
        fi
    }
}

/* Register as a sleeper: publish, clear pending, count ourselves in the
 * word and read it (one step here: how registration interleaves with a
 * release is waiter.pml's to check). */
inline register()
{
    atomic {
        registered = true;
        waiting[me] = true;
        pending[me] = false;
        sleepers++;
        seen_owner = owner;
        seen_handed = handed;
        seen_count = count
    }
}

/* Unregister and read the doorbell. */
inline unregister()
{
    atomic {
        registered = false;
        waiting[me] = false;
        sleepers--;
        if
        :: nempty(bell[me]) -> bell[me]?_
        :: else -> skip
        fi
    }
}

/* ipo_waiter_readable: unregister, read the doorbell and the word (one
 * step: a release between them leaves a ring behind, a wake for nothing). */
inline woken()
{
    unregister();
    seen_owner = owner;
    seen_handed = handed;
    seen_count = count
}

/* The look after a wake or a registration: a turn handed to us is
 * claimed (one compare-and-swap); else what the word said: free: try; dead
 * owner, the turn held or handed to it: take over from exactly what was
 * seen (with BROKEN_HANDED, a handed turn is not taken for a holder's, and
 * a dead recipient's is never taken over); else nothing. */
inline look()
{
    atomic {
        if
        :: owner == me + 1 && handed -> handed = false; took = true; in_turn[me] = true; window[me] = true
        :: else -> took = false
        fi
    };
    if
    :: took -> skip
    :: !took && seen_owner == 0 ->
        atomic {
            if
            :: owner == 0 -> owner = me + 1; count = (count + 1) % 4; took = true; in_turn[me] = true; window[me] = true
            :: else -> skip
            fi
        }
    :: !took && seen_owner != 0 && seen_owner != me + 1 && dead[seen_owner - 1] && TAKES_HANDED ->
        atomic {
            if
            :: owner == seen_owner && handed == seen_handed && count == seen_count ->
                handed = false;
                owner = me + 1; count = (count + 1) % 4; took = true; in_turn[me] = true; window[me] = true;
                taken_over = true; takeovers++
            :: else -> skip
            fi
        }
#ifdef BROKEN
    :: !took && seen_owner != 0 && seen_owner != me + 1 && !dead[seen_owner - 1] && timed_out && !seen_handed ->
        /* The broken rule: a holder that has not released within the time
         * limit is taken for dead. */
        atomic {
            if
            :: owner == seen_owner && handed == seen_handed && count == seen_count ->
                handed = false;
                owner = me + 1; count = (count + 1) % 4; took = true; in_turn[me] = true; window[me] = true;
                taken_over = true
            :: else -> skip
            fi
        }
#endif
    :: else -> skip
    fi
}

proctype proc(byte me)
{
    byte round = 0, had, j, q, seen_owner, seen_count, seen_line, to, watched = 0;
    bool took, taken_over, timed_out, registered, seen_handed, due, cleared, back, rang;
    do
    :: round < ROUNDS ->
        /* ipo_waiter_start: one compare-and-swap from free first. A waiter
         * may die anywhere while it waits (the killer picks one on the
         * line, or handed a turn it has not claimed). */
        {
            seen_owner = 0;
            look();
            do
            :: took -> break
            :: !took ->
                register();
                look();
                if
                :: took -> break      /* still registered: it leaves the word in its turn */
                :: else -> skip
                fi;
                /* Not over: on the line already (a ring coalesced), due. */
                if
                :: !due -> line_due()
                :: else -> skip
                fi;
                /* poll(doorbell, death watch): readable when rung, or when a
                 * participant died that this waiter has not woken for yet;
                 * then a death frees the line (ipo__handoff_deaths): the
                 * one on it may be the dead one, or the one it was to ring. */
                if
                :: atomic { nempty(bell[me]) -> woken() }
#ifndef BROKEN_WATCH
                :: atomic { (deaths & ~watched) != 0 -> watched = deaths; woken(); line = 0 }
#endif
#ifdef BROKEN
                :: atomic { limits > 0 -> limits--; timed_out = true; woken() }
#endif
                fi;
                look();
                /* Rung and not let in: due, if it was the one rung. */
                if
                :: !took -> line_due()
                :: else -> skip
                fi
            od
        } unless { dead[me] };
        if
        :: dead[me] -> break
        :: else -> skip
        fi;
        /* Holding access: the window of a crash. The killer may stop this
         * process before any of the steps below; each is one step (atomic)
         * because what lies inside it is this process's alone, or is one
         * read-modify-write in the code. */
        {
            atomic {
                if
                :: registered -> unregister()   /* finish(HELD) */
                :: else -> skip
                fi;
                /* ... and off the line, rung or due */
                if
                :: (due || line != 0) && (line & SLOT) == me + 1 -> line = 0
                :: else -> skip
                fi;
                due = false;
                check_exclusive();
                took = false;
                seen_owner = 0;
                seen_handed = false;
                seen_count = 0;
                timed_out = false
            };
            atomic {
                if
                :: taken_over ->
                    /* The repair: among what it does, the dead holder's
                     * slot is freed and its registrations taken back. */
                    taken_over = false;
                    for (q : 0 .. N - 1) {
                        if
                        :: dead[q] && waiting[q] -> waiting[q] = false; sleepers--
                        :: else -> skip
                        fi
                    };
                    q = 0
                :: else -> skip
                fi;
                check_exclusive()
            };
            release()
        } unless { dead[me] };
        if
        :: dead[me] -> break
        :: else -> round++
        fi
    :: round == ROUNDS -> break
    od
}

#define KILL(p) :: atomic { crashes > 0 && !dead[p] && \
                            (window[p] || (WAITER_DEATHS && ((line & SLOT) == p + 1 || (owner == p + 1 && handed)))) -> \
                            dead[p] = true; deaths = deaths | (1 << p); crashes-- }

proctype killer()
{
end_kill:
    do
    KILL(0)
#if N > 1
    KILL(1)
#endif
#if N > 2
    KILL(2)
#endif
#if N > 3
    KILL(3)
#endif
    :: crashes == 0 -> break
    od
}

init
{
    byte k;
    atomic {
        for (k : 0 .. N - 1) {
            run proc(k)
        }
        run killer()
    }
}

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
 * Crashes: a process killed by the kernel stops between any two of its
 * steps, and its pidfd becomes readable at the same instant (dead[p] is
 * set, atomically with the end, by the killer process; `unless` stops the
 * victim before its next step). Up to CRASHES processes die, each somewhere
 * between its acquisition and the end of its release: in its turn, during
 * the repair after a takeover, after clearing the owner and before ringing,
 * between a ring's pending flag and its doorbell write. A stopped (SIGSTOP)
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
 * holder or behind a releaser that died before ringing.
 *
 * Steps: what a death can separate is kept apart (the acquisition, leaving
 * the word once holding, the repair, the release's AND, its pending flag,
 * its doorbell write). Registering and waking are one step each: how they
 * interleave with a release is waiter.pml's to check, with every load and
 * store apart, and merging them here keeps the state space small (N=3 in a
 * few seconds).
 *
 * Not modelled: waiters that die (waiter.pml's pass-over of a dead
 * sleeper's doorbell covers them; here a release skips a dead waiter, as
 * the ENXIO of its doorbell makes the code do), the order of the wakeups
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

byte owner = 0;          /* the word's owner: slot + 1, 0 when free */
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

/* The release: clear the owner and read the sleepers (the atomic AND);
 * then choose one registered waiter not rung yet and set its pending flag
 * (the compare-and-swap); then write its doorbell. A crash may come
 * between any two of these. The choice reads the slots in one step: the
 * interleavings of that scan with registrations are waiter.pml's; here the
 * steps a death can separate are kept apart. A dead waiter's doorbell
 * reports it gone (ENXIO) and the next one is rung: reading dead[j] stands
 * for that. */
inline release()
{
    atomic { in_turn[me] = false; owner = 0; had = sleepers };
    if
    :: had > 0 ->
        atomic {
            j = 0;
            do
            :: j < N && !(waiting[j] && !pending[j] && !dead[j]) -> j++
            :: j < N && waiting[j] && !pending[j] && !dead[j] -> pending[j] = true; break
            :: j == N -> break
            od;
            had = 0
        };
        if
        :: j < N -> atomic { if :: nfull(bell[j]) -> bell[j]!1 :: else -> skip fi; j = 0; window[me] = false }
        :: else -> atomic { j = 0; window[me] = false }
        fi
    :: else -> window[me] = false
    fi
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
inline wake()
{
    unregister();
    seen_owner = owner;
    seen_count = count
}

/* The look after a wake or a registration: what the word says now. Free:
 * try; dead owner: take over from exactly what was seen; else nothing. */
inline look()
{
    took = false;
    if
    :: seen_owner == 0 ->
        atomic {
            if
            :: owner == 0 -> owner = me + 1; count = (count + 1) % 4; took = true; in_turn[me] = true; window[me] = true
            :: else -> skip
            fi
        }
    :: seen_owner != 0 && seen_owner != me + 1 && dead[seen_owner - 1] ->
        atomic {
            if
            :: owner == seen_owner && count == seen_count ->
                owner = me + 1; count = (count + 1) % 4; took = true; in_turn[me] = true; window[me] = true;
                taken_over = true; takeovers++
            :: else -> skip
            fi
        }
#ifdef BROKEN
    :: seen_owner != 0 && seen_owner != me + 1 && !dead[seen_owner - 1] && timed_out ->
        /* The broken rule: a holder that has not released within the time
         * limit is taken for dead. */
        atomic {
            if
            :: owner == seen_owner && count == seen_count ->
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
    byte round = 0, had, j, q, seen_owner, seen_count, watched = 0;
    bool took, taken_over, timed_out, registered;
    do
    :: round < ROUNDS ->
        /* ipo_waiter_start: one compare-and-swap from free first */
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
            /* poll(doorbell, death watch): readable when rung, or when a
             * participant died that this waiter has not woken for yet */
            if
            :: atomic { nempty(bell[me]) -> wake() }
#ifndef BROKEN_WATCH
            :: atomic { (deaths & ~watched) != 0 -> watched = deaths; wake() }
#endif
#ifdef BROKEN
            :: atomic { limits > 0 -> limits--; timed_out = true; wake() }
#endif
            fi;
            look()
        od;
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
                check_exclusive();
                took = false;
                seen_owner = 0;
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

#define KILL(p) :: atomic { crashes > 0 && window[p] && !dead[p] -> dead[p] = true; deaths = deaths | (1 << p); crashes-- }

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

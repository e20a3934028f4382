/* tests/model/handoff.pml — the wakeup protocol of loop/src/handoff.c, for SPIN.
 *
 * N processes take ROUNDS turns each. A process that cannot take access
 * registers as a sleeper in the access word (one atomic step together with
 * reading the owner, as the read-modify-write does), and blocks on its
 * doorbell (a channel of one place: a full one is "rung already"). A release
 * clears the owner and reads the sleeper count in one atomic step; if there
 * are sleepers it scans the slots (one read per step, as the C loop does)
 * and rings the waiter with the oldest ticket among those not rung yet,
 * through the pending flag that coalesces rings. Plain loads and stores are separate steps, so SPIN tries
 * every interleaving of them.
 *
 * Checked: mutual exclusion (the assertion), and no lost wakeup: a process
 * blocked forever on its doorbell is an invalid end state, which SPIN
 * reports. `make test-model` runs it for 2 processes x 3 turns and for
 * 3 processes x 1 turn (3 x 2 needs more than 24 GiB of states). */

#ifndef N
#define N 3
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif

byte owner = 0;              /* the access word's owner field: slot + 1, 0 when free */
byte sleepers = 0;           /* the access word's sleeper count */
bool waiting[N];             /* slot.waiting_for & IPO_WAIT_FOR_ACCESS */
byte ticket[N];              /* slot.sleep_ticket */
byte next_ticket = 0;        /* header.sleep_tickets */
bool pending[N];             /* slot.wake_pending */
chan bell[N] = [1] of { bit };
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

inline release(i)
{
    atomic { owner = 0; had = sleepers }   /* fetch_and returns the old word */
    if
    :: had > 0 ->
        best = N; j = 0;
        do
        :: j < N ->
            if
            :: waiting[j] && !pending[j] && (best == N || ticket[j] < ticket[best]) -> best = j
            :: else -> skip
            fi;
            j++
        :: else -> break
        od;
        if
        :: best < N -> ring(best)
        :: else -> skip
        fi
    :: else -> skip
    fi
}

inline drain(i)
{
    do
    :: atomic { nempty(bell[i]) -> bell[i]?_ }
    :: empty(bell[i]) -> break
    od
}

proctype participant(byte i)
{
    byte round = 0, had, best, j;
    bool first, over, rang;
    do
    :: round < ROUNDS ->
        first = true;
retry:
        atomic {                              /* compare-and-swap from free */
            if
            :: owner == 0 -> owner = i + 1; goto critical
            :: else -> skip
            fi
        }
        waiting[i] = true;                    /* publish what we wait for */
        if
        :: first -> atomic { ticket[i] = next_ticket; next_ticket++ }; first = false
        :: else -> skip
        fi;
        pending[i] = false;
        atomic { sleepers++; over = (owner == 0) }   /* register; look at the word */
        if
        :: !over -> bell[i]?_                 /* sleep until rung */
        :: else -> skip
        fi;
        atomic { sleepers-- };                /* unregister */
        waiting[i] = false;
        drain(i);
        goto retry;
critical:
        inside++;
        assert(inside == 1);
        inside--;
        release(i);
        round++
    :: round == ROUNDS -> break
    od
}

init
{
    byte k;
    atomic {
        for (k : 0 .. N - 1) {
            run participant(k)
        }
    }
}

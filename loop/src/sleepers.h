/* loop/src/sleepers.h — the registration half of the handoff, for the waiter only (not public). */
#ifndef IPO_SLEEPERS_H
#define IPO_SLEEPERS_H

#include "ipo/handoff.h"

/* Registers s as a sleeper for `what` (with `since` for
 * IPO_WAIT_FOR_CHANGE): publishes what it waits for in the slot, takes a
 * new place in line if new_ticket, clears the slot's pending ring, then
 * counts itself in the access word. 1 when the wait goes on (sleep until a
 * descriptor is readable), 0 when the word it registered against says the
 * wait is over already; either way s stays registered until
 * ipo__sleeper_unregister. -IPO_EFULL, not registered, when IPO_WAITERS_MAX
 * waiters of this process are registered already. */
int ipo__sleeper_register(ipo_waker_t *w, ipo_sleeper_t *s, uint32_t what,
                          uint64_t since, int new_ticket);

/* Ends s's registration, if any, and reads what woke it: the doorbell (a
 * ring read there is handed to the process's other registered sleepers)
 * and s's eventfd. */
void ipo__sleeper_unregister(ipo_waker_t *w, ipo_sleeper_t *s);

/* Rings the next waiter if access is free and somebody sleeps: for a
 * waiter that leaves without the turn a ring may have given it. */
void ipo__handoff_pass_on(ipo_waker_t *w);

/* The line (header.line): if this participant is the one a releaser rang
 * for access, marks it DUE, so that the next release hands it the turn; 1
 * when it is due (now or already). For a rung waiter that found the turn
 * taken. */
int ipo__line_due(ipo_waker_t *w);

/* A due waiter says it spins for its turn (awake), so that the releaser
 * hands it over without ringing, or that it goes to sleep (not awake), so
 * that the releaser rings. 1 when said; 0 when this participant is no
 * longer due: the line was cleared, perhaps by a releaser that handed it
 * the turn without ringing (claim it), perhaps not (sleep: a release
 * rings registered sleepers as ever). */
int ipo__line_awake(ipo_waker_t *w, int awake);

/* Takes this participant off the line (its waiter that was rung has the
 * turn, or leaves without it). */
void ipo__line_leave(ipo_waker_t *w);

/* Brings the death watch up to date with the slot table (cheap unless
 * participants came), and with collect also reads what it reported (a
 * system call). 1 when a participant was found dead since the last look:
 * the holder may be dead (a takeover is due), or a releaser that died
 * between marking our ring pending and ringing. */
int ipo__handoff_deaths(ipo_waker_t *w, int collect);

/* This participant's run of turns is over (it goes to sleep): the next
 * run's slice starts afresh. */
void ipo__run_end(ipo_waker_t *w);

#endif /* IPO_SLEEPERS_H */

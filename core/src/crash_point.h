/* core/src/crash_point.h — crash points: where a test build can kill its process before a shared store. */
#ifndef IPO_CRASH_POINT_H
#define IPO_CRASH_POINT_H

/* The design promises that a holder killed at any instruction leaves every
 * structure in its old state or its new one (or in a state the takeover's
 * repair derives one from). A test proves it by killing a process before
 * each store to shared memory in turn: IPO_CRASH_POINT() marks those
 * places. In a normal build it is nothing at all, so the hot paths pay
 * nothing. In a test build (compiled with -DIPO_CRASH_POINTS: the CMake
 * targets ipo_core_crash and ipo_loop_crash) it counts the points this
 * process passes and raises SIGKILL at the N-th, N read once from the
 * environment:
 *
 *   IPO_CRASH_AT=N          die at the N-th point passed (unset or 0: never);
 *   IPO_CRASH_WHERE_FD=fd   before dying, write "N file:line ns\n" to this
 *                           descriptor (ns: ipo_now_ns() at the kill), so the
 *                           harness can say where a failing run died and
 *                           time the recovery from the kill;
 *   IPO_CRASH_COUNT_FILE=p  write the number of points passed to p at exit()
 *                           (a run with N unset counts the points a workload
 *                           passes, so the harness knows how many to try).
 *
 * The count starts again in a child of fork(), which reads the environment
 * anew: a harness forks, sets IPO_CRASH_AT in the child, and runs the
 * workload there. ipo__crash_points_passed() gives the count directly.
 *
 * A named site, IPO_CRASH_SITE("name"), is a place a test kills at by name
 * instead of by count: IPO_CRASH_SITE=name in the environment kills the
 * process the first time it passes there (saying where as above). Sites
 * mark places outside a turn, where a kill leaves nothing to repair but a
 * waiter that must not be left asleep (a releaser between marking a
 * sleeper's ring pending and writing its doorbell: "ring", in
 * loop/src/handoff.c). They are not counted: a count stays the count of a
 * turn's stores, and test_crash, which expects every kill to cut a turn
 * short, never dies at one.
 *
 * A point is a function call in test builds, so the compiler keeps the
 * stores before it ahead of it there: what the test proves is the order of
 * the source. In a normal build the compiler may move plain stores past
 * each other; the orders that must survive that are kept by release
 * stores and fences (each one says so), never by these points alone (the
 * allocator pairs each with a compiler barrier: alloc.c's WALK_POINT). */

#ifdef IPO_CRASH_POINTS

#include <stdint.h>

void ipo__crash_point(const char *file, int line);
void ipo__crash_site(const char *name, const char *file, int line);
uint64_t ipo__crash_points_passed(void);

#define IPO_CRASH_POINT() ipo__crash_point(__FILE__, __LINE__)
#define IPO_CRASH_SITE(name) ipo__crash_site((name), __FILE__, __LINE__)

#else

#define IPO_CRASH_POINT() ((void)0)
#define IPO_CRASH_SITE(name) ((void)0)

#endif

#endif /* IPO_CRASH_POINT_H */

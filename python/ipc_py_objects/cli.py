"""The ``ipc-py-objects`` command: see the regions of this user, look into
one, check it, list its messages, watch it live, and clean up what dead
processes left.

Looking never changes a region: ``list``, ``inspect``, ``messages`` and
``watch`` read it through a read-only mapping without joining it (no slot,
no turn), so they work on a region whose creator died and cannot stall a
busy one; what they show is a snapshot taken while the holder works.
``check`` takes a turn as a participant (the region's invariants hold only
between turns), unless the creator is gone or ``--no-turn`` says not to.

Exit status: 0 success; 1 a check found damage; 2 the command could not do
its work (no such region, no turn in time, bad arguments).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import stat
import sys
import time
from typing import Any, Dict, List, Optional

from . import _ipo
from .errors import CreatorGoneError, OperationTimedOutError, SharedMemoryError
from .leftovers import cleanup

__all__ = ["main", "regions", "observe"]

SHM_DIR = "/dev/shm"


# ---- data ------------------------------------------------------------------------


def observe(name: str, census: bool = False, messages: int = 0, check: bool = False) -> Dict[str, Any]:
    """A region's figures (see ``_ipo._observe``), with its name."""
    figures = _ipo._observe(name, census=census, messages=messages, check=check)
    figures["name"] = name
    now = time.monotonic_ns()  # the clock the queue stamps puts on (a coarse read of it)
    for m in figures.get("messages", ()):
        if "put_ns" in m:
            m["age_s"] = max(0, now - m["put_ns"]) / 1e9
    participants = figures["participants"]
    figures["participants_alive"] = sum(1 for p in participants if p["alive"])
    figures["participants_dead"] = sum(1 for p in participants if not p["alive"])
    holder = figures["access"]["holder"]
    figures["holder_pid"] = next((p["pid"] for p in participants if p["slot"] == holder), None)
    heap = figures["heap"]
    free = heap["free_bytes"]
    # How much of the free memory one allocation cannot have: 0 when it is
    # all one chunk.
    figures["fragmentation"] = 0.0 if not free else max(0.0, 1.0 - heap["largest_free"] / free)
    return figures


LAYOUT = _ipo.layout()


def region_version(path: str) -> Optional[int]:
    """The layout version of the region file at path, or None when the file
    is no region of ours (its magic differs, or it cannot be read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        head = os.pread(fd, 16, 0)
    finally:
        os.close(fd)
    if len(head) < 16 or int.from_bytes(head[:8], "little") != LAYOUT["magic"]:
        return None
    at = LAYOUT["layout_version_offset"]
    return int.from_bytes(head[at:at + 4], "little")


def regions() -> List[Dict[str, Any]]:
    """Every region of this user in /dev/shm, with its figures; a file that
    is no region of ours is skipped, one that cannot be read is listed with
    its error."""
    found = []
    try:
        names = sorted(os.listdir(SHM_DIR))
    except OSError:
        return found
    uid = os.geteuid()
    for name in names:
        if name.startswith("."):
            continue  # hidden creations and the doorbell directory: cleanup's
        try:
            st = os.stat(os.path.join(SHM_DIR, name), follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_uid != uid:
            continue
        version = region_version(os.path.join(SHM_DIR, name))
        if version is None:
            continue  # another program's shared memory
        if version != LAYOUT["layout_version"]:
            found.append({"name": name, "error": f"a region of layout version {version} "
                          f"(this ipc_py_objects reads {LAYOUT['layout_version']})"})
            continue
        try:
            found.append(observe(name))
        except SharedMemoryError as exc:
            found.append({"name": name, "error": str(exc)})
    return found


# ---- text ------------------------------------------------------------------------


def size_text(n: Optional[int]) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def age_text(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def console():
    from rich.console import Console

    # Piped output gets whole tables (rich would fit them to 80 columns).
    return Console(width=None if sys.stdout.isatty() else 160)


def table(title: Optional[str], columns: List[str]):
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c, justify="right" if c[:1].islower() and c not in ("name", "type", "class") else "left")
    return t


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def creator_text(r: Dict[str, Any]) -> str:
    return f"{r['creator_pid']} ({'alive' if r['creator_alive'] else 'dead'})"


def list_command(args) -> int:
    found = regions()
    if args.json:
        print_json(found)
        return 0
    out = console()
    if not found:
        out.print("No regions of this user in /dev/shm.")
        return 0
    t = table(None, ["name", "size", "used", "free", "largest free", "alive", "dead",
                     "holder", "queued", "creator"])
    for r in found:
        if "error" in r:
            t.add_row(r["name"], *(["-"] * 8), r["error"])
            continue
        heap = r["heap"]
        t.add_row(r["name"], size_text(r["size"]), size_text(heap["used_bytes"]),
                  size_text(heap["free_bytes"]), size_text(heap["largest_free"]),
                  str(r["participants_alive"]), str(r["participants_dead"]),
                  str(r["holder_pid"]) if r["holder_pid"] is not None else "-",
                  str(r["queue"]["length"]), creator_text(r))
    out.print(t)
    return 0


def inspect_command(args) -> int:
    r = observe(args.name, census=True)
    if args.json:
        print_json(r)
        return 0
    out = console()
    heap, queue, access = r["heap"], r["queue"], r["access"]
    out.print(f"[bold]{r['name']}[/bold]  {size_text(r['size'])}, layout version {r['layout_version']}, "
              f"{r['state']}, mode {r['mode']:o}, uid {r['owner_uid']}")
    out.print(f"creator {creator_text(r)}; {r['participants_alive']} alive, "
              f"{r['participants_dead']} dead of {r['slot_count']} slots; "
              f"{r['attach_count']} consumers ever attached")
    holder = f"pid {r['holder_pid']} (slot {access['holder']})" if access["holder"] is not None else "nobody"
    out.print(f"access held by {holder}; {access['turns']} turns; {access['sleepers']} asleep; "
              f"{r['takeovers']} taken over from dead holders")
    out.print(f"memory: {size_text(heap['used_bytes'])} used, {size_text(heap['free_bytes'])} free of "
              f"{size_text(heap['size'])}; largest free chunk {size_text(heap['largest_free'])}; "
              f"fragmentation {r['fragmentation']:.1%}; {heap['used_blocks']} blocks used, "
              f"{heap['free_blocks']} free")
    out.print(f"queue: {queue['length']} messages; {queue['put']} put, {queue['taken']} taken")
    t = table("Participants", ["slot", "pid", "role", "state", "waits for", "turns", "holds"])
    for p in r["participants"]:
        t.add_row(str(p["slot"]), str(p["pid"]), p["role"], "alive" if p["alive"] else "dead",
                  ", ".join(p["waiting_for"]) or "-", str(p["turns"]), "yes" if p["holds_access"] else "")
    out.print(t)
    blocks = r.get("blocks_by_type")
    if blocks is None:
        out.print("blocks by type: the region changed while they were counted; look again")
    else:
        t = table("Blocks by type", ["type", "blocks", "bytes"])
        for name, (count, size) in sorted(blocks.items(), key=lambda kv: -kv[1][1]):
            t.add_row(name, str(count), size_text(size))
        out.print(t)
    return 0


def check_without_turn(name: str, time_limit: float) -> Optional[str]:
    """check() through a read-only look: a failure counts only from a look
    that nobody's turn overlapped (a holder at work shows states between
    its stores); looks again until one is settled or passes."""
    deadline = time.monotonic() + time_limit
    while True:
        r = observe(name, check=True)
        if r["check_failure"] is None or r["check_settled"]:
            return r["check_failure"]
        if time.monotonic() >= deadline:
            raise OperationTimedOutError(
                f"region '{name}' changed during every look for {time_limit} s: check it in a turn "
                f"(without --no-turn)")


def check_command(args) -> int:
    failure = None
    how = "in a turn"
    sm = None
    if args.no_turn:
        failure, how = check_without_turn(args.name, args.time_limit), "without a turn"
    else:
        observe(args.name)  # a clear error when there is no such region
        try:
            # The C type, as a tool: a participant for the turn, never
            # counted as the consumer a creator's wait_consumer_ready() awaits.
            sm = _ipo.Region(args.name, create=False, tool=True)
            if not sm.init_consumer(args.time_limit):
                raise OperationTimedOutError(f"region '{args.name}' was not ready within "
                                             f"{args.time_limit} s")
        except CreatorGoneError:
            # Nobody will change it any more: a read-only look is whole.
            failure = check_without_turn(args.name, args.time_limit)
            how = "without a turn (creator gone)"
            sm = None
        if sm is not None:
            try:
                try:
                    got_turn = sm.wait_my_turn(args.time_limit)
                except CreatorGoneError:
                    # The creator died while we waited: as above.
                    sm.close()
                    sm = None
                    failure = check_without_turn(args.name, args.time_limit)
                    return report_check(args, failure, "without a turn (creator gone)")
                if not got_turn:
                    raise OperationTimedOutError(
                        f"no turn in region '{args.name}' within {args.time_limit} s "
                        f"(held by pid {observe(args.name)['holder_pid']}); try --no-turn")
                try:
                    sm.check()
                except SharedMemoryError as exc:
                    if type(exc).__name__ != "RegionCorruptedError":
                        raise
                    failure = str(exc)
                finally:
                    sm.release()
            finally:
                if sm is not None:
                    sm.close()
    return report_check(args, failure, how)


def report_check(args, failure: Optional[str], how: str) -> int:
    if args.json:
        print_json({"name": args.name, "ok": failure is None, "failure": failure, "how": how})
    elif failure is None:
        print(f"{args.name}: ok (checked {how})")
    else:
        print(f"{args.name}: DAMAGED (checked {how}): {failure}")
    return 0 if failure is None else 1


def messages_command(args) -> int:
    r = observe(args.name, messages=args.limit)
    if args.json:
        print_json({"name": args.name, "length": r["queue"]["length"], "messages": r["messages"]})
        return 0
    out = console()
    shown = r.get("messages", [])
    t = table(f"{r['queue']['length']} messages in {args.name}"
              + (f" (the first {len(shown)})" if len(shown) < r["queue"]["length"] else ""),
              ["#", "type", "class", "size", "blocks", "age", "offset"])
    for m in shown:
        t.add_row(str(m["index"]), m["type"], m.get("class") or "",
                  size_text(m.get("bytes")) + ("" if m.get("whole", True) else " (changing)"),
                  str(m.get("blocks", "-")), age_text(m.get("age_s")), str(m["offset"]))
    out.print(t)
    return 0


def rates(before: Dict[str, Any], after: Dict[str, Any], seconds: float) -> Dict[str, float]:
    # The access word counts turns in 32 bits: a difference modulo 2^32.
    turns = (after["access"]["turns"] - before["access"]["turns"]) % (1 << 32)
    return {
        "turns_per_s": turns / seconds,
        "messages_put_per_s": (after["queue"]["put"] - before["queue"]["put"]) / seconds,
        "messages_taken_per_s": (after["queue"]["taken"] - before["queue"]["taken"]) / seconds,
    }


def watch_view(r: Dict[str, Any], rate: Dict[str, float]):
    from rich.console import Group
    from rich.text import Text

    heap, queue = r["heap"], r["queue"]
    waiting = sum(1 for p in r["participants"] if p["waiting_for"])
    t = table(None, ["turns/s", "put/s", "taken/s", "queued", "waiting", "asleep", "free", "holder"])
    t.add_row(f"{rate['turns_per_s']:,.0f}", f"{rate['messages_put_per_s']:,.0f}",
              f"{rate['messages_taken_per_s']:,.0f}", str(queue["length"]), str(waiting),
              str(r["access"]["sleepers"]), size_text(heap["free_bytes"]),
              str(r["holder_pid"]) if r["holder_pid"] is not None else "-")
    head = Text(f"{r['name']}: {r['participants_alive']} alive, {r['participants_dead']} dead, "
                f"creator {creator_text(r)}   (q or Ctrl-C quits)")
    return Group(head, t)


def key_pressed(timeout: float) -> Optional[bytes]:
    """A key typed within timeout seconds (stdin in cbreak mode), or None.
    Bytes straight from the descriptor: no decoding, nothing buffered
    where select() cannot see it."""
    fd = sys.stdin.fileno()
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 16) if ready else None


def in_foreground() -> bool:
    """Whether this process owns the terminal: only then is cbreak mode
    ours to set (from the background, tcsetattr would stop us)."""
    try:
        return sys.stdin.isatty() and os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except OSError:
        return False


def watch_json(args) -> int:
    """One JSON object a line per refresh: for scripts (and without a
    terminal to draw on)."""
    before, t0 = observe(args.name), time.monotonic()
    rounds = 0
    try:
        while args.count is None or rounds < args.count:
            time.sleep(args.interval)  # the refresh period, not a wait for a condition
            now, t1 = observe(args.name), time.monotonic()
            line = {"name": args.name, **rates(before, now, t1 - t0), "queued": now["queue"]["length"],
                    "waiting": sum(1 for p in now["participants"] if p["waiting_for"]),
                    "asleep": now["access"]["sleepers"], "free_bytes": now["heap"]["free_bytes"],
                    "holder_pid": now["holder_pid"]}
            print(json.dumps(line), flush=True)
            before, t0 = now, t1
            rounds += 1
    except KeyboardInterrupt:
        pass
    return 0


def watch_command(args) -> int:
    from rich.live import Live

    if args.json:
        return watch_json(args)
    import signal

    before, t0 = observe(args.name), time.monotonic()
    tty = in_foreground()
    saved = None
    if tty:
        import termios
        import tty as ttymod

        # A signal that would end us without unwinding (TERM, HUP, QUIT)
        # unwinds instead, so the terminal is given back below.
        def leave(signum, frame):
            raise SystemExit(128 + signum)

        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, leave)
        saved = termios.tcgetattr(sys.stdin.fileno())
        ttymod.setcbreak(sys.stdin.fileno())
    rounds = 0
    try:
        with Live(watch_view(before, rates(before, before, 1.0)), console=console(),
                  auto_refresh=False) as live:
            while args.count is None or rounds < args.count:
                if tty:
                    key = key_pressed(args.interval)
                    if key and key[:1] in (b"q", b"Q"):
                        break
                else:
                    time.sleep(args.interval)  # the refresh period, not a wait for a condition
                now, t1 = observe(args.name), time.monotonic()
                live.update(watch_view(now, rates(before, now, t1 - t0)), refresh=True)
                before, t0 = now, t1
                rounds += 1
    except KeyboardInterrupt:
        pass
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
    return 0


def cleanup_command(args) -> int:
    found = cleanup(dry_run=args.dry_run)
    if args.json:
        print_json([{"kind": kind, "path": path} for kind, path in found])
        return 0
    verb = "would remove" if args.dry_run else "removed"
    if not found:
        print("nothing to clean up")
    for kind, path in found:
        print(f"{verb} {kind}: {path}")
    return 0


def bench_command(rest: List[str]) -> int:
    """The benchmark suite (ipc_py_objects.bench), with its own arguments."""
    from .bench import run

    return run(rest)


# ---- entry -------------------------------------------------------------------------


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ipc-py-objects", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, help, func, named=True):
        c = sub.add_parser(name, help=help, description=help)
        if named:
            c.add_argument("name", metavar="NAME", help="the region's name")
        c.add_argument("--json", action="store_true", help="print JSON instead of tables")
        c.set_defaults(func=func)
        return c

    command("list", "every region of this user: size, memory, participants, holder, queue, creator",
            list_command, named=False)
    command("inspect", "a region in detail: participants, fragmentation, blocks by type", inspect_command)
    c = command("check", "verify a region's invariants (exit status 1 when damaged)", check_command)
    c.add_argument("--time-limit", type=float, default=5.0, help="seconds to wait for a turn (5)")
    c.add_argument("--no-turn", action="store_true", help="read without taking a turn (may see changes halfway)")
    c = command("messages", "what is queued, without taking anything", messages_command)
    c.add_argument("--limit", type=positive_int, default=100, help="show at most this many (100)")
    c = command("watch", "a live view: turns/s, messages/s, queue, waiters, memory", watch_command)
    c.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (1)")
    c.add_argument("--count", type=int, default=None, help="stop after this many refreshes")
    c = command("cleanup", "remove what dead processes left (regions, half-created files, doorbells)",
                cleanup_command, named=False)
    c.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    # Listed for --help; its arguments are the suite's own (main() hands
    # them over before parsing, as argparse would take its --help).
    sub.add_parser("bench", help="run the benchmark suite against every peer (bench --help: its options)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        return bench_command(argv[1:])
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader went (| head): not an error. Later flushes go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (SharedMemoryError, OSError) as exc:
        print(f"ipc-py-objects: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""`python -m cancelbot` and the `cancelbot` script.

A plain `cancelbot process ID …` runs through early.py: its ticket is read while the rest of
the program loads, and the Typer app (every command, its translated help) is never built.
Everything else — help, the other commands, a command line with a mistake in it — goes to
the Typer app, as always.
"""

import gc
import os
import sys


def main() -> None:
    # Loading the program makes tens of thousands of objects that live as long as the process
    # (modules, classes, functions); the cyclic collector would go over them again and again
    # while they load (~20 ms of a `process` run, on its critical path). It is off meanwhile.
    # A `process` run handles one ticket and makes little cyclic garbage: it stays off to the
    # end. Every other command (a shift runs for hours) turns it back on once loaded, with
    # what start-up made set aside for good (gc.freeze).
    collecting = gc.isenabled()
    gc.disable()
    try:
        code = _plain_process(sys.argv[1:])
        if code is not None:
            sys.exit(code)
        import typer

        from cancelbot.cli import app, run_command_line, translate_help

        command = typer.main.get_command(app)
        translate_help(command)  # the options Typer adds itself, in the agent's language
        gc.freeze()
        if collecting:
            gc.enable()
        sys.exit(run_command_line(command))
    finally:
        # The run is over: everything imported is about to be thrown away, so spare the
        # interpreter's last full garbage collection of it (~25 ms of every run's exit).
        gc.freeze()
        if collecting:
            gc.enable()  # as it was (a caller in the same process: a test)


def _plain_process(argv: list[str]) -> int | None:
    """early.run, with what Typer's own main does around a command: an interrupt outside the
    command's own handling is "Aborted!" (exit 1), a closed pipe exits 1 quietly, and a crash
    is shown without the locals, which hold API keys."""
    if argv[:1] not in (["process"], ["--debug"]):
        return None  # --help, --version, another command: not even early.py is loaded
    from cancelbot import early

    try:
        return early.run(argv)
    except (KeyboardInterrupt, EOFError):
        from gettext import gettext

        sys.stderr.write("\n" + gettext("Aborted!") + "\n")
        return 1
    except BrokenPipeError:  # the reader went away (`| head`): no second error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception:
        from rich.console import Console
        from rich.traceback import Traceback

        Console(stderr=True).print(Traceback(show_locals=False))
        return 1


if __name__ == "__main__":
    main()

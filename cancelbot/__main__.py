"""`python -m cancelbot` and the `cancelbot` script."""

import gc

import typer

from cancelbot.cli import app, translate_help


def main() -> None:
    try:
        command = typer.main.get_command(app)
        translate_help(command)  # the options Typer adds itself, in the agent's language
        command(prog_name="cancelbot")
    finally:
        # The run is over: everything imported is about to be thrown away, so spare the
        # interpreter's last full garbage collection of it (~25 ms of every run's exit).
        gc.freeze()


if __name__ == "__main__":
    main()

"""`python -m cancelbot` and the `cancelbot` script."""

from cancelbot.cli import app


def main() -> None:
    app()


if __name__ == "__main__":
    main()

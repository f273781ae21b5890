"""The argument parser every `pairsim` command uses: bad arguments end in one line on stderr and exit code 2."""

from __future__ import annotations

import argparse

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage block; one line is what a person (and a script) can act on.
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")

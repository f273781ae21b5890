"""How long a fresh mocked world takes to start, and to reach "connected" with a signed-in desktop.

Prints figures; asserts nothing (speed goals are measured, never asserted). Run: .venv/bin/python benchmarks/world_start.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from simulators.world import World


def main(runs: int = 15) -> None:
    starts, ready = [], []
    for seed in range(runs):
        with tempfile.TemporaryDirectory() as root:
            began = time.perf_counter()
            world = World(seed=seed, root=Path(root)).start()
            started = time.perf_counter()
            world.people.create("Dana", mfa=True)
            world.mac().sign_in("Dana")
            world.mac().allow_connections(True)
            connected = time.perf_counter()
            world.stop()
        starts.append(started - began)
        ready.append(connected - began)
    for label, values in (("world start (servers listening)", starts), ("to a connected, signed-in Mac", ready)):
        ms = sorted(v * 1000 for v in values)
        print(f"{label}: median {statistics.median(ms):.0f} ms, min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms ({runs} runs)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)

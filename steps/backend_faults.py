"""Steps: the ChatGPT service's answers, and the daemon versions it accepts. Each is one line of product or operator language calling one
driver method; the README's step list shows each with an example."""

from __future__ import annotations

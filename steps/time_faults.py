"""Steps: time passing and each party's clock: expiry the way it happens, a clock that is off, tokens that race. Each is one line of product or operator language calling one
driver method; the README's step list shows each with an example."""

from __future__ import annotations

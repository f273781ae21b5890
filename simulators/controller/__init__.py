"""A Mac that controls another Mac through the relay (Settings › Connections › Control other devices)."""

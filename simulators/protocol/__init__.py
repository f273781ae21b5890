"""The sans-I/O protocol core: pure values and state machines, no sockets, no files, no clocks of their own."""

"""The real ``MetaTrader5`` package's contract: its constants, result structures and dtypes.

Production code reads the terminal's data through these definitions; the simulated
terminal implements them, so the real path never depends on the simulated one.
"""

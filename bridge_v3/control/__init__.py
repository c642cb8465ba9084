"""Signed remote control: commands on ``{prefix}:control``, replies on ``{prefix}:control:reply``.

See ``envelope`` for the message and its signature, ``service`` for the checks a command
passes, ``commands`` for what each does, and ``cli`` for ``python -m bridge_v3.control``.
"""

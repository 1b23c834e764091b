"""tuotempo-soap: the integration server between clinic software (HIS) and patients.

The package is layered (see ARCHITECTURE.md): ``soap``, ``web`` and ``cli`` are
entry points that call ``services``; ``services`` use ``store`` (the only place
that writes SQL) and ``domain`` (plain types and parsing rules).
"""

__version__ = "0.1.0"

"""``python -m tuotempo_soap.cli``: the same command as ``tuotempo-soap``."""

from . import main

main()

"""``python -m simulator``: same as the ``engage-simulator`` console script."""

from simulator.server import main

main()

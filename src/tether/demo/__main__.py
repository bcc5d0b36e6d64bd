"""``python -m tether.demo``."""

from tether.demo.scenario import main

main()

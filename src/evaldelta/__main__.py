"""``python -m evaldelta``: the ``evaldelta`` command."""

from evaldelta.cli.main import main

main()

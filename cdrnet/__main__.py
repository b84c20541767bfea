"""Allow ``python -m cdrnet`` as well as the ``cdrnet`` console script."""

from cdrnet.cli import main

if __name__ == "__main__":
    main()

"""A test's factory of things it must close: what `make` made, `close` ends at the end of the `with`."""

from contextlib import contextmanager


@contextmanager
def closing_all(make, close):
    """Yields a factory calling `make(*args, **kwargs)`; every thing it made is closed with
    `close(thing)` when the block ends, the last made first, however the block ends."""
    made = []

    def factory(*args, **kwargs):
        thing = make(*args, **kwargs)
        made.append(thing)
        return thing

    try:
        yield factory
    finally:
        for thing in reversed(made):
            close(thing)

"""The one exception type the library raises for bad input from its caller."""


class BadInput(ValueError):
    """Input the caller can fix (a run directory in use, a checkpoint that does not match,
    teachers of other tasks): the message says what is wrong and how to fix it, in one
    line. The command-line programs print it without a traceback."""

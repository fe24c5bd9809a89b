"""The one error type: a clear message for the user, exit status 2."""


class MainlineError(Exception):
    pass

"""The one error type a user can cause: it carries a message meant for them."""


class InputError(ValueError):
    """An input (upload, file, argument) that cannot be used, with a clear reason."""

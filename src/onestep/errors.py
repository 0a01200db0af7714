"""One exception type for mistakes a user can fix; the CLI prints it as a single line."""


class UserError(ValueError):
    """Bad input: the message names the problem and the fix, in one line."""

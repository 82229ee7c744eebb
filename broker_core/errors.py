"""The one exception the model raises for bad input.

A command is validated completely before anything changes, so a CommandError always means
"nothing happened": the cluster is exactly as it was before the call.
"""


class CommandError(ValueError):
    """An invalid command. `field` names the offending field (a dotted path such as
    ``config.retention.ms`` or ``partitions``); `message` is a sentence a person can act on."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}

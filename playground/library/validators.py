"""Column validators that ask broker_core, so a single field is refused with the model's own
message even before the whole scenario is checked. Each one is a thin adapter: broker_core's
CommandError becomes Django's ValidationError with the same text. The rules are not written
here; when broker_core changes a rule, these follow."""

from django.core.exceptions import ValidationError

from broker_core import validate as v
from broker_core.config import validate_config, validate_topic_name
from broker_core.errors import CommandError
from playground.links.namespace import check_slug


def _adapt(check, value) -> None:
    try:
        check(value)
    except CommandError as e:
        raise ValidationError(e.message, code="broker_core") from None


def check_scenario_slug(value) -> None:
    _adapt(check_slug, value)


def check_topic_name(value) -> None:
    _adapt(validate_topic_name, value)


def check_group_id(value) -> None:
    _adapt(lambda x: v.identifier({"group": x}, "group", what="group id"), value)


def _config(name: str):
    def check(value) -> None:
        if value is not None:
            _adapt(lambda x: validate_config({name: x}), value)

    # Migrations refer to a validator by module and name, so it must look like a module-level
    # function (the names below are exactly these).
    check.__name__ = check.__qualname__ = "check_" + name.replace(".", "_")
    return check


check_retention_ms = _config("retention.ms")
check_retention_bytes = _config("retention.bytes")
check_cleanup_policy = _config("cleanup.policy")
check_min_insync_replicas = _config("min.insync.replicas")
check_max_message_bytes = _config("max.message.bytes")

"""An OpenFeature provider for loopsafe's Flags (needs ``openfeature-sdk``: the
``openfeature`` extra).

::

    from openfeature import api
    from loopsafe.stores.flags.openfeature import FlagsProvider

    api.set_provider(FlagsProvider(flags))          # flags: an open loopsafe.Flags
    client = api.get_client()
    context = EvaluationContext("user-42", {"groups": ["staff"]})
    client.get_boolean_value("new-checkout", False, context)

The evaluation context's ``targeting_key`` is the actor; its ``groups`` attribute (a list
of str) the actor's groups. Flags are boolean: the value of a known flag is whether it is
on, with the reason

- ``STATIC`` — on for everyone (the boolean gate);
- ``TARGETING_MATCH`` — on for this actor or one of its groups;
- ``SPLIT`` — decided by a percentage gate (on or off);
- ``DISABLED`` — every gate is off;
- ``DEFAULT`` — off: actor or group gates exist but none matched.

An unknown flag gives the default value with error code ``FLAG_NOT_FOUND``; asking for a
string, number or object gives ``TYPE_MISMATCH``. Evaluations are synchronous and served
from the snapshot, like :meth:`Flags.is_enabled`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NoReturn

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import FlagNotFoundError, TypeMismatchError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from loopsafe.stores.flags._flag import Gate
from loopsafe.stores.flags._flags import Flags

__all__ = ["FlagsProvider"]

_REASONS = {
    Gate.BOOLEAN: Reason.STATIC,
    Gate.ACTOR: Reason.TARGETING_MATCH,
    Gate.GROUP: Reason.TARGETING_MATCH,
    Gate.PERCENTAGE_OF_ACTORS: Reason.SPLIT,
    Gate.PERCENTAGE_OF_TIME: Reason.SPLIT,
}


class FlagsProvider(AbstractProvider):
    """Serves an open :class:`~loopsafe.Flags` to OpenFeature clients (see the module)."""

    def __init__(self, flags: Flags, *, name: str = "loopsafe") -> None:
        super().__init__()
        self.flags = flags
        self._metadata = Metadata(name=name)

    def get_metadata(self) -> Metadata:
        return self._metadata

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        actor, groups = _actor(evaluation_context)
        flag, gate = self.flags.evaluate(flag_key, actor, groups)
        if flag is None:
            raise FlagNotFoundError(f"no flag named {flag_key!r}")
        if gate is not None:
            return FlagResolutionDetails(True, reason=_REASONS[gate], variant="on")
        if flag.off:
            reason = Reason.DISABLED
        elif flag.percentage_of_actors or flag.percentage_of_time:
            reason = Reason.SPLIT
        else:
            reason = Reason.DEFAULT
        return FlagResolutionDetails(False, reason=reason, variant="off")

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        _mismatch(flag_key, "string")

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        _mismatch(flag_key, "integer")

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        _mismatch(flag_key, "float")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        _mismatch(flag_key, "object")


def _actor(context: EvaluationContext | None) -> tuple[str | None, tuple[str, ...]]:
    if context is None:
        return None, ()
    groups = context.attributes.get("groups", ())
    if isinstance(groups, str):
        groups = (groups,)
    elif not isinstance(groups, Sequence):
        groups = ()
    return context.targeting_key, tuple(g for g in groups if isinstance(g, str))


def _mismatch(flag_key: str, kind: str) -> NoReturn:
    raise TypeMismatchError(f"loopsafe flags are boolean; {flag_key!r} can't be a {kind}")

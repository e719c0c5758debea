"""Scenario commands read from the command registry.

Every declared command a member performs that no written scenario command calls is a
scenario command of the same name, its keys read from the command's parameters: an id
parameter is a key naming an alias (``member_id`` -> ``member``, ``registration_id`` ->
``request``...), a text, number, flag or instant parameter a key of that type. So a new
command can be played in a scenario, and is shown in docs/scenario-format.md, as soon as
it is declared. A command with a required parameter of another type is not derived: it
needs a written one (:mod:`.format`, :mod:`.commands`).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from ...service import registry
from .format import (
    BOOL,
    CAMPAIGN,
    GIFT,
    INSTANT,
    INT,
    MEMBER,
    REQUEST,
    SESSION,
    STR,
    TUTORIAL,
    WORKSHOP,
    WRITTEN_COMMANDS,
    WRITTEN_SUMMARIES,
    CommandSpec,
)

__all__ = [
    "CALLED_AS", "COMMANDS", "COMMAND_SUMMARIES", "DERIVED", "DerivedCommand", "derived_commands",
]

#: Parameters naming something a scenario calls by alias: (its key, the alias kind).
ALIAS_PARAMETERS: Mapping[str, tuple[str, str]] = {
    "member_id": ("member", MEMBER), "whom": ("whom", MEMBER),
    "workshop_id": ("workshop", WORKSHOP), "session_id": ("session", SESSION),
    "registration_id": ("request", REQUEST), "gift_id": ("gift", GIFT),
    "tutorial_id": ("tutorial", TUTORIAL), "campaign_id": ("campaign", CAMPAIGN),
}
#: Annotated types a scenario key can take, by their text.
KEY_TYPES: Mapping[str, str] = {"str": STR, "int": INT, "bool": BOOL, "datetime": INSTANT}
#: Declared commands the written scenario commands call under another name.
CALLED_AS: Mapping[str, str] = {"record_view": "view_tutorial",
                                "update_profile": "complete_profile"}
_ACTING = {registry.MEMBER, registry.ORGANIZER, registry.REQUESTER, registry.OWNER}


@attrs.frozen
class DerivedCommand:
    """A scenario command read from a declaration: its keys, and which parameter each
    key gives (the alias kind it names, if any)."""

    declared: registry.Declaration
    spec: CommandSpec
    parameters: Mapping[str, tuple[str, str | None]]  # key -> (parameter, alias kind)


def _key_type(type_text: str) -> str | None:
    options = [t for t in type_text.split(" | ") if t not in ("None", "Unset")]
    return KEY_TYPES.get(options[0]) if len(options) == 1 else None


def derive(declared: registry.Declaration) -> DerivedCommand | None:
    """The scenario command of ``declared``; None when a required parameter has a type no
    scenario key takes."""
    required: dict[str, str] = {}
    optional: dict[str, str] = {}
    refs: dict[str, str] = {}
    parameters: dict[str, tuple[str, str | None]] = {}
    for parameter in declared.parameters:
        alias = ALIAS_PARAMETERS.get(parameter.name)
        if alias is not None:
            key, kind = alias
            refs[key] = kind
            key_type: str | None = STR
        else:
            key, kind, key_type = parameter.name, None, _key_type(parameter.type_text)
        if key_type is None:
            if parameter.required:
                return None
            continue  # a value a scenario cannot write: left to the command's default
        (required if parameter.required else optional)[key] = key_type
        parameters[key] = (parameter.name, kind)
    return DerivedCommand(declared, CommandSpec(required=required, optional=optional,
                                                refs=refs), parameters)


def derived_commands(written: Mapping[str, CommandSpec]) -> dict[str, DerivedCommand]:
    """A scenario command for every declared command a member performs that ``written``
    does not play (by name or as :data:`CALLED_AS` says) and that can be derived."""
    found = {}
    for name, declared in registry.REGISTRY.items():
        if (declared.kind != "command" or not _ACTING & set(declared.actors)
                or name in written or name in CALLED_AS):
            continue
        command = derive(declared)
        if command is not None:
            found[name] = command
    return found


#: The scenario commands read from the registry.
DERIVED: Mapping[str, DerivedCommand] = derived_commands(WRITTEN_COMMANDS)
#: Every command a scenario may use: the written ones and the derived ones.
COMMANDS: Mapping[str, CommandSpec] = {
    **WRITTEN_COMMANDS, **{name: command.spec for name, command in DERIVED.items()}}
#: What each command does (docs/scenario-format.md); a derived one says it as its
#: declaration's docstring does.
COMMAND_SUMMARIES: Mapping[str, str] = {
    **WRITTEN_SUMMARIES,
    **{name: command.declared.summary for name, command in DERIVED.items()}}

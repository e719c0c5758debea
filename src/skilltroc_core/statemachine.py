"""Lifecycles as data: frozen transition tables and one ``transition()`` function.

A :class:`TransitionTable` maps ``(state, trigger)`` to the target state and the rule ID
that allows the move. A malformed table is refused when it is built (so at import):
every state must be reachable from the initial one, final states have no exits, and
every non-final state has at least one. The rule docs draw their diagrams from the same
tables, so the docs cannot drift from the behaviour.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

import attrs

from .refusals import refusal

__all__ = ["Move", "TransitionTable", "transition"]

S = TypeVar("S", bound=StrEnum)


@attrs.frozen(kw_only=True)
class Move(Generic[S]):
    """One allowed transition, with the rule that allows it."""

    source: S
    trigger: str
    target: S
    rule: str


class MalformedTableError(Exception):
    """A transition table that cannot be a lifecycle (a programming error, at import)."""


class TransitionTable(Generic[S]):
    """A lifecycle: its name, states, initial state, final states and allowed moves."""

    def __init__(
        self, name: str, states: type[S], initial: S, final: frozenset[S], moves: list[Move[S]]
    ) -> None:
        self.name = name
        self.states = states
        self.initial = initial
        self.final = final
        table: dict[tuple[S, str], Move[S]] = {}
        for move in moves:
            key = (move.source, move.trigger)
            if key in table:
                raise MalformedTableError(f"{name}: {key} is defined twice")
            if move.source in final:
                raise MalformedTableError(f"{name}: final state {move.source} has an exit")
            table[key] = move
        self._moves: Mapping[tuple[S, str], Move[S]] = table
        reachable = {initial}
        frontier = [initial]
        while frontier:
            state = frontier.pop()
            for move in moves:
                if move.source == state and move.target not in reachable:
                    reachable.add(move.target)
                    frontier.append(move.target)
        unreachable = set(states) - reachable
        if unreachable:
            raise MalformedTableError(f"{name}: unreachable states {sorted(unreachable)}")
        stuck = {s for s in states if s not in final and not any(m.source == s for m in moves)}
        if stuck:
            raise MalformedTableError(f"{name}: non-final states without exits {sorted(stuck)}")

    def __iter__(self) -> Iterator[Move[S]]:
        return iter(self._moves.values())

    def move(self, state: S, trigger: str) -> Move[S] | None:
        return self._moves.get((state, trigger))

    def allows(self, state: S, trigger: str) -> bool:
        return (state, trigger) in self._moves


def transition(
    table: TransitionTable[S], state: S, trigger: str, *, what: str = "", rule: str | None = None
) -> S:
    """The state after ``trigger``; :class:`StateConflictError` (citing ``rule``) if not allowed."""
    move = table.move(state, trigger)
    if move is None:
        allowed = sorted(m.trigger for m in table if m.source == state)
        subject = what or table.name
        if allowed:
            raise refusal("transition_not_allowed", rule=rule, subject=subject,
                          state=str(state), trigger=trigger, allowed=allowed)
        raise refusal("transition_from_final_state", rule=rule, subject=subject,
                      state=str(state), trigger=trigger)
    return move.target

"""The allow-list applied at the edge: a record keeps only the fields its stream declares.

Each stream's rules (extractors.streams.FieldRule) form a tree of dotted paths. A record is rebuilt
from it: a declared field is kept, scrubbed (free text) or pseudonymised; an explicitly dropped one
goes silently; anything else goes too and is counted under its path (list indexes written `[]`),
so a new upstream field is reported, never landed unread. Exact names win over globs, and globs
are tried in the order declared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from engage.privacy.pseudonymise import Pseudonymiser
from engage.privacy.scrub import scrub_text, scrub_value
from extractors.streams import INVALID_REASON_FIELD, FieldRule

# Per rule node, at most this many distinct keys and record shapes (key sets) are remembered, so
# a source making up keys cannot grow memory without end (past it, the same answer is worked out
# again each time).
LOOKUPS_PER_NODE = 4096
PLANS_PER_NODE = 1024
# Values scrubbed or pseudonymised once per stream run and remembered (an order's email is its
# attendee's too; answers repeat): bounded, the memo starts again when full. Memory only.
MEMO_ENTRIES = 65_536
NESTED = "nested"  # a plan's step into an object or a list of objects, by the node's own rules


@dataclass(eq=False)
class _Plan:
    """What to do with an object of one shape (its keys, in order) under one node and path."""

    steps: tuple[tuple[str, str, _Node], ...]  # (key, action or NESTED, node) of what is kept
    unknown: tuple[str, ...]  # the paths of the keys no rule names, counted per object
    remembered: bool = False


@dataclass
class _Node:
    action: str | None = None  # a leaf: what to do with the whole value
    is_list: bool = False  # `name[]`: the children apply to each item
    children: dict[str, _Node] = field(default_factory=dict)
    # Filled by `compile` and by use: the glob children in declared order, the answer for each
    # key seen, and the plan for each shape seen (most records of a stream share a few shapes).
    globs: tuple[tuple[str, _Node], ...] = ()
    lookups: dict[str, _Node | None] = field(default_factory=dict)
    plans: dict[tuple[str, tuple[str, ...]], _Plan] = field(default_factory=dict)

    def compile(self) -> None:
        """Ready the subtree for use (call once the rules are all in): globs listed, memos empty."""
        self.globs = tuple((p, n) for p, n in self.children.items() if any(c in p for c in "*?["))
        self.lookups, self.plans = {}, {}
        for child in self.children.values():
            child.compile()

    def child(self, key: str) -> _Node | None:
        """The rule node for `key`: its exact name first, else the first glob matching it."""
        try:
            return self.lookups[key]
        except KeyError:
            pass
        found = self.children.get(key)
        if found is None:
            found = next((node for pattern, node in self.globs if fnmatchcase(key, pattern)), None)
        if len(self.lookups) < LOOKUPS_PER_NODE:
            self.lookups[key] = found
        return found

    def plan(self, prefix: str, keys: tuple[str, ...]) -> _Plan:
        """The plan for an object with these keys at `prefix` (its path, ending in `.`, or "")."""
        plan = self.plans.get((prefix, keys))
        if plan is not None:
            return plan
        steps, unknown = [], []
        for key in keys:
            child = self.child(key)
            if child is None:
                unknown.append(prefix + key)
            elif child.action is None:
                steps.append((key, NESTED, child))
            elif child.action != "drop":  # an explicit drop goes silently
                steps.append((key, child.action, child))
        plan = _Plan(tuple(steps), tuple(unknown))
        if len(self.plans) < PLANS_PER_NODE:
            plan.remembered = True
            self.plans[(prefix, keys)] = plan
        return plan


def _tree(rules: Iterable[FieldRule]) -> _Node:
    root = _Node()
    for rule in rules:
        node = root
        steps = rule.path.split(".")
        for index, step in enumerate(steps):
            is_list = step.endswith("[]")
            name = step[:-2] if is_list else step
            node = node.children.setdefault(name, _Node())
            node.is_list = node.is_list or is_list
            if index == len(steps) - 1 and node.action is None and not node.children:
                node.action = rule.action
    return root


class Minimiser:
    """One stream's allow-list, ready to apply to records; `unknown` counts what it dropped unread.

    Meant for one stream run: it remembers rule lookups, record shapes, pseudonyms and scrubbed
    text as it goes (each bounded), so a run's thousands of alike records cost little each.
    """

    def __init__(self, rules: Iterable[FieldRule], pseudonymiser: Pseudonymiser) -> None:
        self.rules = tuple(rules)
        self._root = _tree(self.rules)
        # The loader's quarantine marker is the extractor's, not the source's: it always passes.
        self._root.children.setdefault(INVALID_REASON_FIELD, _Node(action="keep"))
        self._root.compile()
        self.pseudonymiser = pseudonymiser
        self._unknown: Counter[str] = Counter()
        self._unknown_by_plan: Counter[_Plan] = Counter()  # folded into `unknown` when read
        self._scrubbed: dict[str, str] = {}
        self._pseudonyms: dict[str, str | None] = {}

    @property
    def unknown(self) -> Counter[str]:
        """Undeclared paths dropped so far (list indexes written `[]`), with how often."""
        for plan, times in self._unknown_by_plan.items():
            for path in plan.unknown:
                self._unknown[path] += times
        self._unknown_by_plan.clear()
        return self._unknown

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        """A new record holding only the declared fields, each treated by its action."""
        return self._object(record, self._root, "")

    def _object(self, value: dict[str, Any], node: _Node, prefix: str) -> dict[str, Any]:
        plan = node.plan(prefix, tuple(value))
        if plan.unknown:
            if plan.remembered:
                self._unknown_by_plan[plan] += 1
            else:
                self._unknown.update(plan.unknown)
        kept: dict[str, Any] = {}
        for key, action, child in plan.steps:
            item = value[key]
            if action == "keep":
                kept[key] = item
            elif action == "scrub" and isinstance(item, str):  # the common leaves, without a call
                kept[key] = self._scrubbed.get(item) or self._scrub(item)
            elif action != NESTED:
                self._leaf(kept, key, item, action)
            elif item is None:
                kept[key] = None
            elif child.is_list and isinstance(item, list):
                inner = f"{prefix}{key}[]."
                kept[key] = [self._object(i, child, inner) if isinstance(i, dict) else None for i in item]
            elif not child.is_list and isinstance(item, dict):
                kept[key] = self._object(item, child, f"{prefix}{key}.")
            else:  # a scalar where an object or a list was declared: not what staging reads
                self._unknown[prefix + key] += 1
        return kept

    def _leaf(self, kept: dict[str, Any], key: str, value: Any, action: str) -> None:
        if action == "keep":
            kept[key] = value
        elif action == "scrub":
            kept[key] = self._scrub(value) if isinstance(value, str) else scrub_value(value)
        elif action == "pseudonymise":
            kept[f"{key}_pseudonym"] = self._pseudonym(value) if isinstance(value, str) else None
        elif action != "drop":
            raise ValueError(f"unknown field action {action!r}")

    def _scrub(self, text: str) -> str:
        scrubbed = self._scrubbed.get(text)
        if scrubbed is None:  # ("" scrubs to itself: asked each time, remembered anyway)
            scrubbed = _remember(self._scrubbed, text, scrub_text(text))
        return scrubbed

    def _pseudonym(self, value: str) -> str | None:
        try:
            return self._pseudonyms[value]
        except KeyError:
            pseudonym = self.pseudonymiser.pseudonym(value) if value.strip() else None
            return _remember(self._pseudonyms, value, pseudonym)


def _remember(memo: dict[str, Any], key: str, value: Any) -> Any:
    if len(memo) >= MEMO_ENTRIES:
        memo.clear()
    memo[key] = value
    return value

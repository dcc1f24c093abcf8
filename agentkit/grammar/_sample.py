"""Random texts of a grammar: a fuzzing aid (every sample must parse into valid calls)."""

from __future__ import annotations

import random

from agentkit.grammar._tree import Alt, Chars, Lit, Node, Ref, Rep, Seq

__all__ = ["sample_text"]

# Characters tried for a negated class: ASCII, the format's own tag characters, a few wider ones.
_POOL = [chr(c) for c in range(0x20, 0x7F)] + [
    "\n",
    "\t",
    "\r",
    "\x00",
    "\x1f",
    "é",
    "中",
    "😀",
    "\u2028",
]


def _pick(node: Chars, rng: random.Random) -> str:
    def member(ch: str) -> bool:
        for item in node.items:
            if isinstance(item, tuple):
                if item[0] <= ch <= item[1]:
                    return True
            elif ch == item:
                return True
        return False

    if not node.negated:
        item = rng.choice(node.items)
        if isinstance(item, tuple):
            return chr(rng.randint(ord(item[0]), ord(item[1])))
        return item
    while True:
        ch = rng.choice(_POOL)
        if not member(ch):
            return ch


def sample_text(node: Node, rng: random.Random, *, mean_repeat: float = 2.0) -> str:
    """One random text of the grammar ``node`` (unbounded repeats: about ``mean_repeat`` times)."""
    out: list[str] = []
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Ref):
            stack.append(current.node)
        elif isinstance(current, Lit):
            out.append(current.text)
        elif isinstance(current, Chars):
            out.append(_pick(current, rng))
        elif isinstance(current, Seq):
            stack.extend(reversed(current.items))
        elif isinstance(current, Alt):
            stack.append(rng.choice(current.items))
        else:
            assert isinstance(current, Rep)
            if current.high is None:
                count = current.low
                while rng.random() < mean_repeat / (mean_repeat + 1):
                    count += 1
            else:
                count = rng.randint(current.low, current.high)
            stack.extend([current.node] * count)
    return "".join(out)

"""MCTS over language-model agents (SWE-Search, COS(M+O)S, MAV's external search) for any text
environment (``games.text.TextEnvironment``).

One iteration of ``AgentSearch.run``:

1. **Select** from the root by UCT over mean values in [0, 1], skipping closed subtrees (finished or
   with nothing left to propose), until a node may still grow. **Progressive widening**: a node with
   ``n`` visits may have ``ceil(widening * n ** widening_exponent)`` children, so a node gets
   more proposals only as its visits grow.
2. **Expand** it: the oracle proposes ``samples`` actions (the value agent's explanation of the node
   and the reasons earlier proposals were invalid go into the prompt), the environment parses and
   applies them, duplicates merge; for environments that enumerate their actions the next
   ``samples`` enumerated actions are added instead (no model call).
3. **Evaluate** the new children: finished ones by their reward (or the oracle's judge when the
   environment cannot score them), the others by the value agent (a prompted score with its
   explanation, or a learned value): ``Evaluation(value, explanation)``.
4. **Back up** each new value along the path (sums and visit counts).

The search stops when a child solves the task (``stop_on_solve``), when the budget cannot pay for the
next request (``Limit(llm_calls=, tokens=, money=, time=)``, charged before each request), after
``Limit.simulations`` iterations or ``Limit.nodes`` nodes, or when the whole tree is closed. The
**final selection** picks among finished trajectories: ``"best"`` (highest reward, then visits),
``"majority"`` (the answer most visits agree on) or ``"discriminator"`` (the oracle picks among the
best few); with none finished the most visited path's end is the answer.

``sample_episodes`` is the baseline without search: whole episodes of one sampled action at a time,
repeated until one solves the task or the budget ends.
"""
from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from mcts._agent_protocol import AgentBudget, AgentOracle, BudgetExhausted, Evaluation
from mcts._limit import Limit

ROOT = 0
NO_PARENT = -1
FINAL_SELECTIONS = ("best", "majority", "discriminator")


class InvalidEnvironmentError(ValueError):
    """An object does not offer the text-environment verbs the search needs."""


_ENV_VERBS = ("initial", "enumerate_actions", "apply", "is_terminal", "reward", "to_text", "describe",
              "value_question", "judge_question", "answer", "key", "serialize")


def check_environment(env: Any) -> None:
    """Raises ``InvalidEnvironmentError`` when ``env`` lacks a verb of the protocol."""
    missing = [v for v in _ENV_VERBS if not callable(getattr(env, v, None))]
    if missing or not hasattr(env, "solve_threshold"):
        raise InvalidEnvironmentError(f"{type(env).__name__} is not a text environment: missing {missing or ['solve_threshold']}")


@dataclass
class AgentNode:
    """One state of the search tree.

    Attributes:
        index, parent: ids in the tree's node list (``NO_PARENT`` at the root).
        action: the canonical action that led here (None at the root).
        state: the environment's state.
        depth: actions from the root.
        visits, value_sum: backed-up statistics (values in [0, 1]).
        evaluation: the value agent's verdict when the node was made.
        terminal: the episode is over here; ``reward`` is then its outcome.
        children: ids of the children.
        rounds: proposal rounds asked of the oracle here.
        pending: enumerated actions not yet added as children (None: actions are proposed).
        closed: nothing below this node can still grow.
        invalid: reasons recent proposals were rejected (shown in the next proposal prompt).
    """

    index: int
    parent: int
    action: Optional[str]
    state: Any
    depth: int
    visits: int = 0
    value_sum: float = 0.0
    evaluation: Optional[Evaluation] = None
    terminal: bool = False
    reward: Optional[float] = None
    children: list[int] = field(default_factory=list)
    rounds: int = 0
    pending: Optional[list[str]] = None
    closed: bool = False
    invalid: list[str] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0


@dataclass(frozen=True)
class AgentResult:
    """What an agent search found.

    Attributes:
        env, task_id: the environment's name and task.
        answer: the chosen final answer (``env.answer`` of the chosen state).
        state_text: the chosen state as text.
        reward: its reward (None when no finished state was reached).
        solved: the reward reaches the environment's ``solve_threshold``.
        selection: how the answer was chosen ("best", "majority", "discriminator", "unfinished").
        iterations, nodes: search iterations run and tree nodes made.
        stop_reason: "solved", "llm_calls", "tokens", "money", "time", "simulations", "nodes", "exhausted".
        spent: the budget's counters (llm_calls, tokens, money, seconds, refused).
        seconds: wall time.
        nodes_data: the tree, one dict per node (see ``node_dict``), root first.
        stats: the oracle's counters (invalid proposals, unparsed values, ...).
    """

    env: str
    task_id: str
    answer: str
    state_text: str
    reward: Optional[float]
    solved: bool
    selection: str
    iterations: int
    nodes: int
    stop_reason: str
    spent: dict
    seconds: float
    nodes_data: tuple[dict, ...] = ()
    stats: dict = field(default_factory=dict)

    def report(self) -> dict:
        """The result without the tree (for one-line reports)."""
        return {"env": self.env, "task": self.task_id, "answer": self.answer, "reward": self.reward,
                "solved": self.solved, "selection": self.selection, "iterations": self.iterations,
                "nodes": self.nodes, "stop_reason": self.stop_reason, "spent": self.spent,
                "seconds": round(self.seconds, 3), "stats": self.stats}


def node_dict(env: Any, node: AgentNode) -> dict:
    """A node as plain data (the trace format's node record)."""
    ev = node.evaluation
    return {"id": node.index, "parent": node.parent, "move": node.action, "depth": node.depth,
            "visits": node.visits, "value": round(node.mean, 6), "terminal": node.terminal,
            "reward": node.reward, "evaluation": None if ev is None else round(ev.value, 6),
            "explanation": None if ev is None else ev.explanation, "source": None if ev is None else ev.source,
            "state": env.serialize(node.state)}


class AgentSearch:
    """MCTS/UCT over an oracle's proposals with a value agent, progressive widening and a final selection.

    Args:
        oracle: an ``AgentOracle`` (``models.llm.LLMAgentOracle`` on a backend).
        samples: proposals asked per expansion (enumerated actions added per expansion).
        c_uct: exploration constant.
        widening: progressive widening coefficient ``c`` (children allowed: ``ceil(c * n ** alpha)``).
        widening_exponent: progressive widening exponent ``alpha`` in [0, 1].
        max_rounds: proposal rounds at one node that may all be invalid before it is closed.
        final: "best", "majority" or "discriminator".
        stop_on_solve: stop as soon as a finished state solves the task.
        use_values: ask the value agent for new non-terminal nodes (else every one gets 0.5).

    Raises:
        ValueError: a setting is out of range.
    """

    def __init__(self, oracle: AgentOracle, *, samples: int = 2, c_uct: float = 1.0, widening: float = 1.0,
                 widening_exponent: float = 0.5, max_rounds: int = 3, final: str = "best",
                 stop_on_solve: bool = True, use_values: bool = True) -> None:
        if samples < 1 or c_uct < 0 or widening <= 0 or not 0 <= widening_exponent <= 1 or max_rounds < 1:
            raise ValueError(f"bad AgentSearch settings: samples={samples}, c_uct={c_uct}, widening={widening}, "
                             f"widening_exponent={widening_exponent}, max_rounds={max_rounds}")
        if final not in FINAL_SELECTIONS:
            raise ValueError(f"final must be one of {FINAL_SELECTIONS}, got {final!r}")
        self.oracle = oracle
        self.samples = samples
        self.c_uct = c_uct
        self.widening = widening
        self.widening_exponent = widening_exponent
        self.max_rounds = max_rounds
        self.final = final
        self.stop_on_solve = stop_on_solve
        self.use_values = use_values

    # -- tree helpers -----------------------------------------------------------------------------
    def _allowed_children(self, node: AgentNode) -> int:
        return max(1, math.ceil(self.widening * max(node.visits, 1) ** self.widening_exponent))

    def _can_grow(self, node: AgentNode) -> bool:
        if node.terminal:
            return False
        if node.pending is not None:
            return bool(node.pending)
        return node.rounds < self.max_rounds

    def _select(self, nodes: list[AgentNode]) -> list[int]:
        path = [ROOT]
        node = nodes[ROOT]
        while True:
            if self._can_grow(node) and len(node.children) < self._allowed_children(node):
                return path
            open_kids = [c for c in node.children if not nodes[c].closed]
            if not open_kids:
                return path
            log_n = math.log(max(node.visits, 1))
            node = nodes[max(open_kids, key=lambda c: nodes[c].mean
                             + self.c_uct * math.sqrt(log_n / max(nodes[c].visits, 1)))]
            path.append(node.index)

    def _refresh_closed(self, nodes: list[AgentNode], path: list[int]) -> None:
        for i in reversed(path):
            n = nodes[i]
            n.closed = n.terminal or (not self._can_grow(n) and all(nodes[c].closed for c in n.children))

    # -- one expansion ----------------------------------------------------------------------------
    def _new_states(self, env: Any, node: AgentNode, budget: AgentBudget, known: set) -> list[tuple[str, Any]]:
        if node.pending is None and node.rounds == 0:
            listed = env.enumerate_actions(node.state)
            if listed is not None:
                node.pending = list(listed)
        if node.pending is not None:
            take, node.pending = node.pending[:self.samples], node.pending[self.samples:]
            node.rounds += 1
            return [(a, env.apply(node.state, a)) for a in take]
        feedback = []
        if node.evaluation is not None and node.evaluation.explanation:
            feedback.append(f"Assessment of this state: {node.evaluation.explanation}")
        if node.invalid:
            feedback.append("Rejected earlier answers: " + "; ".join(node.invalid[-3:]))
        node.rounds += 1
        texts = self.oracle.propose(env, node.state, self.samples, "\n".join(feedback), budget)
        out: list[tuple[str, Any]] = []
        for text in texts:
            self.stats["proposals"] += 1
            try:
                action = env.parse_action(node.state, text)
                child = env.apply(node.state, action)
            except ValueError as exc:
                self.stats["invalid_proposals"] += 1
                node.invalid.append(str(exc)[:160])
                continue
            k = env.key(child)
            if k in known:
                self.stats["duplicate_proposals"] += 1
                continue
            known.add(k)
            out.append((action, child))
        return out

    def _score(self, env: Any, states: list[Any], budget: AgentBudget) -> list[tuple[Evaluation, bool, Optional[float]]]:
        out: list[Optional[tuple[Evaluation, bool, Optional[float]]]] = [None] * len(states)
        todo = []
        for i, s in enumerate(states):
            if env.is_terminal(s):
                r = env.reward(s)
                if r is None:
                    r = float(self.oracle.judge(env, s, budget))
                out[i] = (Evaluation(r, "", "reward"), True, r)
            else:
                todo.append(i)
        if todo:
            evs = [Evaluation(0.5, "", "default") for _ in todo]
            if self.use_values:
                try:
                    evs = self.oracle.evaluate(env, [states[i] for i in todo], budget)
                except BudgetExhausted:  # keep the children already paid for; the search stops after this
                    self._out_of_budget = True
            for i, ev in zip(todo, evs):
                out[i] = (ev, False, None)
        return out  # type: ignore[return-value]

    # -- the search -------------------------------------------------------------------------------
    def run(self, env: Any, limit: Limit | None = None, *, budget: AgentBudget | None = None,
            progress: Callable[[dict], None] | None = None) -> AgentResult:
        """Searches ``env`` from its initial state.

        Args:
            env: a text environment.
            limit: the budget (``llm_calls``, ``tokens``, ``money``, ``time``, ``simulations`` =
                iterations, ``nodes``); ignored when ``budget`` is given.
            budget: an ``AgentBudget`` to charge (e.g. shared by several searches).
            progress: called after each iteration with a small dict (iteration, nodes, best, spent).

        Raises:
            InvalidEnvironmentError: ``env`` is not a text environment.
        """
        check_environment(env)
        limit = limit if budget is None else budget.limit
        budget = budget or AgentBudget(limit)
        assert limit is not None
        t0 = time.monotonic()
        self.stats: Counter[str] = Counter()
        self._out_of_budget = False
        oracle_before = Counter(getattr(self.oracle, "stats", {}))
        root_state = env.initial()
        nodes = [AgentNode(ROOT, NO_PARENT, None, root_state, 0)]
        known = {env.key(root_state)}
        root = nodes[ROOT]
        stop = ""
        iterations = 0
        hold = None
        try:
            if self.final == "discriminator":  # keep one request for the final choice
                hold = budget.reserve(requests=1)
            if env.is_terminal(root_state):
                (root.evaluation, root.terminal, root.reward), = self._score(env, [root_state], budget)
            else:
                root.evaluation = self._score(env, [root_state], budget)[0][0]
            root.visits, root.value_sum = 1, root.evaluation.value
        except BudgetExhausted:
            stop = budget.exhausted() or "llm_calls"
        while not stop:
            if root.closed:
                stop = "exhausted"
                break
            if limit.simulations is not None and iterations >= limit.simulations:
                stop = "simulations"
                break
            if limit.nodes is not None and len(nodes) >= limit.nodes:
                stop = "nodes"
                break
            why = budget.exhausted()
            if why:
                stop = why
                break
            path = self._select(nodes)
            leaf = nodes[path[-1]]
            values: list[float] = []
            solved = False
            try:
                if self._can_grow(leaf) and len(leaf.children) < self._allowed_children(leaf):
                    fresh = self._new_states(env, leaf, budget, known)
                    scored = self._score(env, [s for _, s in fresh], budget) if fresh else []
                    for (action, state), (ev, term, reward) in zip(fresh, scored):
                        child = AgentNode(len(nodes), leaf.index, action, state, leaf.depth + 1, 1, ev.value,
                                          ev, term, reward, closed=term)
                        nodes.append(child)
                        leaf.children.append(child.index)
                        values.append(ev.value)
                        solved = solved or (term and reward is not None and reward >= env.solve_threshold)
                    if not fresh:
                        values.append(0.0)  # a round without a new valid action counts against the node
                else:
                    values.append(leaf.reward if leaf.terminal and leaf.reward is not None else leaf.mean)
            except BudgetExhausted:
                stop = budget.exhausted() or "llm_calls"
            if self._out_of_budget and not stop:
                stop = budget.exhausted() or "llm_calls"
            self._refresh_closed(nodes, path)
            for i in path:
                nodes[i].visits += len(values)
                nodes[i].value_sum += sum(values)
            iterations += 1
            if progress is not None:
                progress({"iteration": iterations, "nodes": len(nodes), "best": max(
                    (n.reward for n in nodes if n.reward is not None), default=None), "spent": budget.as_dict()})
            if solved and self.stop_on_solve and not stop:
                stop = "solved"
        if hold is not None:
            budget.settle(hold, requests=0, prompt_tokens=0, completion_tokens=0, money=0.0)
        chosen, selection = self._choose(env, nodes, budget)
        node = nodes[chosen]
        solved_final = node.reward is not None and node.reward >= env.solve_threshold
        return AgentResult(env.name, str(env.task_id), env.answer(node.state), env.to_text(node.state), node.reward,
                           solved_final, selection, iterations, len(nodes), stop, budget.as_dict(),
                           time.monotonic() - t0, tuple(node_dict(env, n) for n in nodes),
                           {**dict(self.stats), **dict(Counter(getattr(self.oracle, "stats", {})) - oracle_before)})

    def _choose(self, env: Any, nodes: list[AgentNode], budget: AgentBudget) -> tuple[int, str]:
        done = [n for n in nodes if n.terminal and n.reward is not None]
        if not done:
            node = nodes[ROOT]
            while node.children:
                node = nodes[max(node.children, key=lambda c: (nodes[c].visits, nodes[c].mean))]
            return node.index, "unfinished"
        ranked = sorted(done, key=lambda n: (-n.reward, -n.visits, n.index))  # type: ignore[operator]
        if self.final == "majority":
            votes: Counter[str] = Counter()
            for n in done:
                votes[env.answer(n.state)] += n.visits
            top = votes.most_common(1)[0][0]
            return next(n.index for n in ranked if env.answer(n.state) == top), "majority"
        if self.final == "discriminator" and len(ranked) > 1:
            few = ranked[:5]
            try:
                pick = self.oracle.discriminate(env, [n.state for n in few], budget)
                if 0 <= pick < len(few):
                    return few[pick].index, "discriminator"
            except BudgetExhausted:
                pass
        return ranked[0].index, "best"


def sample_episodes(env: Any, oracle: AgentOracle, limit: Limit | None = None, *,
                    budget: AgentBudget | None = None, max_episodes: int | None = None) -> AgentResult:
    """The model alone: episodes of one proposed action at a time (an invalid answer ends the
    episode), repeated until one solves the task, ``max_episodes`` ran, or the budget ends.

    The episodes are returned as a tree (shared prefixes merged) so they export like a search.
    """
    check_environment(env)
    limit = limit if budget is None else budget.limit
    budget = budget or AgentBudget(limit)
    t0 = time.monotonic()
    root_state = env.initial()
    nodes = [AgentNode(ROOT, NO_PARENT, None, root_state, 0, visits=0)]
    by_key = {env.key(root_state): ROOT}
    stats: Counter[str] = Counter()
    oracle_before = Counter(getattr(oracle, "stats", {}))
    episodes = 0
    stop = ""
    best: Optional[int] = None
    while not stop:
        if (max_episodes is not None and episodes >= max_episodes) or (
                limit is not None and limit.simulations is not None and episodes >= limit.simulations):
            stop = "simulations"
            break
        stop = budget.exhausted()
        if stop:
            break
        episodes += 1
        cur = nodes[ROOT]
        cur.visits += 1
        try:
            while not env.is_terminal(cur.state):
                listed = env.enumerate_actions(cur.state)
                texts = oracle.propose(env, cur.state, 1, "", budget)
                stats["proposals"] += 1
                try:
                    action = env.parse_action(cur.state, texts[0] if texts else "")
                    if listed is not None and action not in listed:
                        raise ValueError(f"{action!r} is not listed")
                    state = env.apply(cur.state, action)
                except ValueError:
                    stats["invalid_proposals"] += 1
                    break
                k = env.key(state)
                if k not in by_key:
                    by_key[k] = len(nodes)
                    nodes.append(AgentNode(len(nodes), cur.index, action, state, cur.depth + 1))
                    cur.children.append(len(nodes) - 1)
                cur = nodes[by_key[k]]
                cur.visits += 1
            if env.is_terminal(cur.state):
                if cur.reward is None:
                    r = env.reward(cur.state)
                    cur.reward = float(oracle.judge(env, cur.state, budget)) if r is None else float(r)
                    cur.terminal = True
                cur.value_sum += cur.reward * 1.0
                if best is None or cur.reward > (nodes[best].reward or 0.0):
                    best = cur.index
                if cur.reward >= env.solve_threshold:
                    stop = "solved"
        except BudgetExhausted:
            stop = budget.exhausted() or "llm_calls"
    node = nodes[best] if best is not None else nodes[ROOT]
    return AgentResult(env.name, str(env.task_id), env.answer(node.state), env.to_text(node.state), node.reward,
                       node.reward is not None and node.reward >= env.solve_threshold,
                       "best" if best is not None else "unfinished", episodes, len(nodes), stop, budget.as_dict(),
                       time.monotonic() - t0, tuple(node_dict(env, n) for n in nodes),
                       {**dict(stats), **dict(Counter(getattr(oracle, "stats", {})) - oracle_before)})

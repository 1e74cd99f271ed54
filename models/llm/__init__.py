"""Language models as policy, value and opponent model for search (see docs/llm.md).

``import models.llm`` needs numpy only; ``TransformersBackend`` imports torch and transformers when
it is built.
"""
from __future__ import annotations

from models.llm._agent_oracle import LLMAgentOracle, Prices  # text agents (docs/llm.md, "Agents")
from models.llm._backend import (
                                 BaseBackend,
                                 BudgetExceededError,
                                 LLMBackend,
                                 LLMError,
                                 LLMTimeoutError,
                                 LRUCache,
                                 Price,
                                 Usage,
                                 UsageSnapshot,
                                 price_of,
)
from models.llm._chat import chatml, chatml_to_messages
from models.llm._evaluator import CompositeEvaluator, LLMEvaluator
from models.llm._game24 import Game24Search  # thin entry point: games.text.Game24 through AgentSearch
from models.llm._http import SCORING_MODES, HTTPBackend
from models.llm._oracle import (
                                 LLMOracle,
                                 parse_move,
                                 parse_score,
                                 score_to_value,
                                 softmax,
)
from models.llm._prompts import PROMPT_DIR, PromptError, PromptSet
from models.llm._scripted import ScriptedBackend
from models.llm._transformers import (
                                 ModelNotFoundError,
                                 TransformersBackend,
                                 cache_dir,
                                 find_smollm2_gguf,
                                 resolve_model_dir,
)

__all__ = [
                                 "PROMPT_DIR",
                                 "BaseBackend",
                                 "BudgetExceededError",
                                 "CompositeEvaluator",
                                 "Game24Search",
                                 "HTTPBackend",
                                 "LLMBackend",
                                 "LLMError",
                                 "LLMEvaluator",
                                 "LLMAgentOracle",
                                 "LLMOracle",
                                 "LLMTimeoutError",
                                 "LRUCache",
                                 "ModelNotFoundError",
                                 "Prices",
                                 "PromptError",
                                 "Price",
                                 "PromptSet",
                                 "SCORING_MODES",
                                 "ScriptedBackend",
                                 "TransformersBackend",
                                 "Usage",
                                 "UsageSnapshot",
                                 "price_of",
                                 "cache_dir",
                                 "chatml",
                                 "chatml_to_messages",
                                 "find_smollm2_gguf",
                                 "parse_move",
                                 "parse_score",
                                 "resolve_model_dir",
                                 "score_to_value",
                                 "softmax",
]

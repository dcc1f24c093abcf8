"""The agent: configuration (:class:`Agent`), the loop, limits and the run's result."""

from agentkit.agent._agent import Agent
from agentkit.agent._result import Limits, RunResult, RunStatus

__all__ = ["Agent", "Limits", "RunResult", "RunStatus"]

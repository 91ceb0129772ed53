"""OpenRLHF loads this file by path (--train.agent_func_path / --remote_rm_url): it defines
AgentInstance (and AgentExecutor when OpenRLHF is importable) and reward_func, all from
envforge_client.openrlhf_agent."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from envforge_client.openrlhf_agent import AgentInstance, reward_func  # noqa: E402,F401

try:  # OpenRLHF's executor wrapper, when OpenRLHF is installed
    from openrlhf.utils.agent import AgentExecutorBase  # noqa: E402

    class AgentExecutor(AgentExecutorBase):
        def __init__(self, max_steps, max_length, llm_engine, hf_tokenizer, result_queue):
            super().__init__(AgentInstance, max_steps, max_length, llm_engine, hf_tokenizer, result_queue)
except ImportError:
    pass

"""verl loads its custom reward function by path (custom_reward_function.path=<this file>,
custom_reward_function.name=compute_score): the server's /verify judges the final text."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from envforge_client.verl_tool import compute_score  # noqa: E402,F401

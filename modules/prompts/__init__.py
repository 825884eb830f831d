"""The prompt language: emphasis, prompt editing and alternation, AND, extra-network tags, styles.

Pure functions, specified by their doctests. The names A1111 extensions call keep A1111's signatures.
"""
from modules.prompts.attention import parse_prompt_attention
from modules.prompts.extra_networks import ExtraNetworkParams, parse_extra_networks, parse_extra_networks_batch
from modules.prompts.multicond import get_multicond_prompt_list, split_weighted_parts
from modules.prompts.schedule import get_learned_conditioning_prompt_schedules
from modules.prompts.styles import PromptStyle, StyleDatabase, apply_styles_to_prompt, merge_prompts

__all__ = [
    "parse_prompt_attention", "get_learned_conditioning_prompt_schedules", "get_multicond_prompt_list",
    "split_weighted_parts", "parse_extra_networks", "parse_extra_networks_batch", "ExtraNetworkParams",
    "PromptStyle", "StyleDatabase", "apply_styles_to_prompt", "merge_prompts",
]

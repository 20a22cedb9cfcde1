"""The cleaners of the catalogue's Anthropic-compatible providers (``routing/catalog.py``).

Only what a public source shows the provider needs: its own documentation, or a public report
with the provider's error text. docs/providers.md lists every rule with its source; tests/server/
test_cleaners.py drives fakes that refuse exactly what these endpoints refuse, with their texts.
Whatever else a provider refuses by naming a field is learned at run time
(``anthroxy_server/gateway/learned.py``). Behaviour that is reported but contested, or refused
without a field to leave out, is listed in docs/providers.md and not changed here.

The ``anthropic-beta`` header is not a cleaner's business: ``ProviderProfile.drop_betas`` removes
it for every third-party endpoint (docs/protocol/anthropic.md §2.1).
"""

from __future__ import annotations

from .rules import BlocksToText, Cleaner, Drop, FoldSystemMessages, HashUnless, Set, When

# role "system" entries inside messages, which Claude Code sends since 2.1.153
# (docs/protocol/claude-code.md §4.4), are refused by DeepSeek ("messages[1].role: unknown
# variant `system`, expected `user` or `assistant`"), MiniMax ("invalid params, chat content has
# invalid message role: system (2013)") and MiMo ("messages[1].role must be either 'user' or
# 'assistant', but got 'system'").
_DEEPSEEK_SYSTEM = "https://github.com/deepseek-ai/DeepSeek-V3/issues/1370"
_MINIMAX_SYSTEM = "https://github.com/MiniMax-AI/MiniMax-M2.7/issues/43"
_MIMO_SYSTEM = "https://github.com/XiaomiMiMo/MiMo/issues/54"
# tool search results (ENABLE_TOOL_SEARCH) hold tool_reference blocks; Anthropic's block is
# {"type": "tool_reference", "tool_name": ...}. DeepSeek: "messages[4].content: unknown variant
# tool_reference, expected text"; Kimi: a bare "Invalid request Error".
_TOOL_REFERENCE = "Tool loaded: {tool_name}"

DEEPSEEK = Cleaner(
    rules=(
        # Thinking mode refuses a forced tool_choice ("Thinking mode does not support this
        # tool_choice"); with thinking disabled the same request is accepted. Thinking is on by
        # default there, so an Anthropic request without `thinking` is refused too.
        Set(
            "thinking",
            {"type": "disabled"},
            when=(
                When("tool_choice.type", ("any", "tool")),
                When("thinking.type", ("disabled",), negate=True),
            ),
            source="https://github.com/deepseek-ai/DeepSeek-V3/issues/1376",
        ),
        # 400 "thinking options type cannot be disabled when reasoning_effort is set": Claude
        # Code >= 2.1.166 sends thinking disabled with output_config.effort for sub-agents,
        # WebSearch and titles.
        Drop(
            "output_config.effort",
            when=(When("thinking.type", ("disabled",)),),
            source="https://github.com/deepseek-ai/DeepSeek-V3/issues/1397",
        ),
        FoldSystemMessages(source=_DEEPSEEK_SYSTEM),
        # "Invalid 'user_id': string does not match pattern. Expected a string that matches the
        # pattern '^[a-zA-Z0-9_-]+$'"; Claude Code's user_id is a JSON string
        # (docs/protocol/claude-code.md §4.7). DeepSeek's rate-limit page: at most 512.
        HashUnless(
            "metadata.user_id",
            r"[a-zA-Z0-9_-]{1,512}",
            source="https://github.com/deepseek-ai/awesome-deepseek-agent/issues/67",
        ),
        BlocksToText(
            "tool_reference",
            _TOOL_REFERENCE,
            source="https://github.com/zhukunpenglinyutong/jetbrains-cc-gui/issues/591",
        ),
    ),
    signer="deepseek",
    # "The `content[].thinking` in the thinking mode must be passed back to the API": DeepSeek
    # takes unsigned thinking from elsewhere (https://github.com/NousResearch/hermes-agent/pull/17510).
    foreign_thinking="unsigned",
    tool_turn_needs_thinking=False,
)

KIMI = Cleaner(
    rules=(
        # Claude Code's beta body fields give a bare 400 "Invalid request Error" since 2.1.69
        # (the release that added defer_loading); CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS=1,
        # which removes them with the header, fixes it. anthroxy already drops the header, and
        # "a gateway that strips the header while passing the body ... produces hard 400
        # errors" (https://code.claude.com/docs/en/llm-gateway-protocol).
        Drop("tools.*.defer_loading", source="https://github.com/MoonshotAI/kimi-cli/issues/1344"),
        Drop("context_management", source="https://github.com/MoonshotAI/Kimi-K2.5/issues/5"),
        BlocksToText(
            "tool_reference",
            _TOOL_REFERENCE,
            source="https://github.com/MoonshotAI/kimi-cli/issues/1449",
        ),
        # "400 invalid thinking: only type=enabled is allowed for this model" for Claude Code's
        # sub-agents (thinking disabled); its main chat, sent with adaptive, works.
        Set(
            "thinking",
            {"type": "adaptive"},
            when=(
                When("model", ("kimi-k2.7-code",), prefix=True),
                When("thinking.type", ("disabled",)),
            ),
            source="https://github.com/MoonshotAI/Kimi-K2/issues/141",
        ),
    ),
    signer="kimi",
    # "thinking is enabled but reasoning_content is missing in assistant tool call message";
    # Kimi, like DeepSeek, takes unsigned thinking (hermes-agent/pull/17510 above).
    foreign_thinking="unsigned",
    tool_turn_needs_thinking=False,
)

MINIMAX = Cleaner(
    rules=(FoldSystemMessages(source=_MINIMAX_SYSTEM),),
    signer="minimax",
    tool_turn_needs_thinking=False,
)

MIMO = Cleaner(
    rules=(FoldSystemMessages(source=_MIMO_SYSTEM),),
    signer="mimo",
    # "The reasoning_content in the thinking mode must be passed back to the API."
    # (https://github.com/farion1231/cc-switch/issues/2952)
    foreign_thinking="unsigned",
    tool_turn_needs_thinking=False,
)

# No refusal of anything Claude Code sends is on record for Z.AI (which honours cache_control and
# takes tool search) or for Qwen: what they refuse by name is learned at run time. Thinking
# blocks made elsewhere are dropped, as neither documents what it does with them.
GLM = Cleaner(signer="glm", tool_turn_needs_thinking=False)
QWEN = Cleaner(signer="qwen", tool_turn_needs_thinking=False)

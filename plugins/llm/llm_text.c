/*
 * llm_text.c - the llm_text plugin: asks an OpenAI-compatible server for
 * the next button from a text description of the game state.
 *
 * Entry point: gnarl_plugin_entry.  All the work is in llm_plugin.c and
 * llm_client.c (shared with llm_vision); this file holds the descriptor,
 * the parameter table and the default user prompt.
 */
#define _POSIX_C_SOURCE 200809L

#include <gnarl/plugin.h>

#include "llm_plugin.h"

#define TEXT_USER_PROMPT                                                                      \
	"Location: {location}. Position: x={x}, y={y}, facing {direction}. Hearts: {hearts}. \
Rupees: {rupees}. Small keys: {keys}. Sword: {sword}. Items: {items}. Enemies nearby: \
{enemies}. Season: {season}. Last suggestion: {last_suggestion}. Which button should the \
player press next?"

static const struct gnarl_param params[] = {
	GNARL_LLM_COMMON_PARAMS(TEXT_USER_PROMPT),
	GNARL_PARAMS_END,
};

GNARL_LLM_PLUGIN("llm_text", false, TEXT_USER_PROMPT,
                 0, 0.02, 5.0,
                 "suggests the next button from a text description of the game state "
                 "(OpenAI-compatible chat completions: vLLM, Ollama, llama.cpp server)",
                 params)

/*
 * llm_vision.c - the llm_vision plugin: asks an OpenAI-compatible server
 * with a vision model for the next button, sending the env's 160x144 frame
 * (nearest-neighbour scaled, PNG or JPEG) as a data: URL image part.
 *
 * Entry point: gnarl_plugin_entry.  The work is shared with llm_text in
 * llm_plugin.c and llm_client.c; this file holds the descriptor, the
 * parameter table (the common one plus the image's) and the default prompt.
 */
#define _POSIX_C_SOURCE 200809L

#include <gnarl/plugin.h>

#include "llm_plugin.h"

#define VISION_USER_PROMPT                                                                    \
	"This is the current Game Boy screen. Location: {location}. Hearts: {hearts}. Sword: \
{sword}. Enemies nearby: {enemies}. Last suggestion: {last_suggestion}. Which button should \
the player press next?"

static const struct gnarl_param params[] = {
	GNARL_LLM_COMMON_PARAMS(VISION_USER_PROMPT),
	{"image_format", GNARL_PARAM_STRING, 0, 0, GNARL_LLM_YAML(GNARL_LLM_IMAGE_FORMAT), 0, 0,
	 "encoding of the frame sent to the model", "png|jpeg"},
	{"image_scale", GNARL_PARAM_FLOAT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 GNARL_LLM_YAML(GNARL_LLM_IMAGE_SCALE), 0.125, 8,
	 "nearest-neighbour scale of the 160x144 frame (2: 320x288)", NULL},
	{"image_quality", GNARL_PARAM_INT, 0, GNARL_PARAM_HAS_MIN | GNARL_PARAM_HAS_MAX,
	 GNARL_LLM_YAML(GNARL_LLM_IMAGE_QUALITY), 1, 100, "JPEG quality", NULL},
	GNARL_PARAMS_END,
};

GNARL_LLM_PLUGIN("llm_vision", true, VISION_USER_PROMPT,
                 GNARL_LLM_WANTS_FRAME, 0.03, 50.0,
                 "suggests the next button from the game's screen (OpenAI-compatible chat "
                 "completions with an image part: vLLM, Ollama, llama.cpp server with --mmproj)",
                 params)

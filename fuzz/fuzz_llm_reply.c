/*
 * fuzz_llm_reply.c - what an LLM server sends back: the chat-completions
 * body (choices[0].message.content, finish_reason), the ACTION line or
 * JSON object inside the content, and the quota check of an error body.
 * The bytes come from a server gnarl does not control: truncated,
 * invalid UTF-8, huge, or hostile.
 *
 * Input: the HTTP body as received.
 *
 * Oracles besides the sanitizers: the answer is -1 or one of the actions;
 * the same content read as truncated never answers differently from read
 * whole (truncation can only withdraw an answer); and nothing appended
 * after a finished ACTION line changes the answer.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "llm_prompt.h"

static const char names[][GNARL_LLM_NAME_MAX] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};
#define N_ACTIONS 7u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	bool truncated;
	int32_t whole, cut, body;

	body = gnarl_llm_reply_read(text, size, N_ACTIONS, names, &truncated);
	FUZZ_CHECK(body >= -1 && body < (int32_t)N_ACTIONS, "action %d of %u", body, N_ACTIONS);
	(void)gnarl_llm_reply_is_quota(text, size);

	/* The same bytes as a message's content. */
	whole = gnarl_llm_reply_parse(text, size, false, N_ACTIONS, names);
	cut = gnarl_llm_reply_parse(text, size, true, N_ACTIONS, names);
	FUZZ_CHECK(whole >= -1 && whole < (int32_t)N_ACTIONS, "action %d", whole);
	FUZZ_CHECK(cut == -1 || cut == whole, "truncated %d, whole %d", cut, whole);
	if (cut >= 0) {
		/* A finished ACTION line decides on its own: nothing appended
		 * after it changes the answer. */
		char *more = malloc(size + 9);

		if (!more)
			abort();
		memcpy(more, text, size);
		memcpy(more + size, "\nACTION:B", 9);
		FUZZ_CHECK(gnarl_llm_reply_parse(more, size + 9, false, N_ACTIONS, names) == whole,
		           "a later line changed the answer");
		free(more);
	}
	return 0;
}

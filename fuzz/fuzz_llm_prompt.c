/*
 * fuzz_llm_prompt.c - the LLM plugins' config-side parsers and the prompt
 * they fill: a prompt template (system_prompt, user_prompt: placeholders,
 * "{{" and "}}"), the room_names table (keys "<group>/<room>" in decimal
 * or 0x-hex), and rendering the template from a game state whose fields
 * hold any value an env may write.
 *
 * Input: 112 bytes of struct gnarl_game_state (ABI 1.0's fields; zeros
 * when shorter), then the template, then optionally a line "#--rooms" and
 * the room_names map in YAML.
 *
 * Oracles besides the sanitizers: a template that compiles renders, for
 * any state, NUL-terminated text; a refusal has a message.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "llm_prompt.h"
#include "value.h"

#define STATE_BYTES GNARL_GAME_STATE_V1_SIZE

static const char names[][GNARL_LLM_NAME_MAX] = {"NOP", "UP", "DOWN", "LEFT", "RIGHT", "A", "B"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gnarl_game_state st;
	const char *parts[2];
	size_t lens[2], n;
	char err[GNARL_ERR_SIZE], *text;
	struct gnarl_llm_template *t = NULL;
	struct gnarl_llm_rooms *rooms = NULL;
	struct gnarl_tree *tree = NULL;
	struct gnarl_llm_buf out = {0};

	if (size > 16 * 1024)
		return -1;
	memset(&st, 0, sizeof(st));
	memcpy(&st, data, size < STATE_BYTES ? size : STATE_BYTES);
	st.size = STATE_BYTES;
	st.ram = NULL;
	st.ram_size = 0;
	data += size < STATE_BYTES ? size : STATE_BYTES;
	size -= size < STATE_BYTES ? size : STATE_BYTES;

	n = fuzz_split(data, size, "#--rooms", parts, lens, 2);
	text = fuzz_strndup(parts[0], lens[0]);
	err[0] = '\0';
	if (n == 2) {
		if (gnarl_tree_parse(parts[1], lens[1], "room_names", &tree, err) != 0)
			goto out;
		err[0] = '\0';
		if (gnarl_llm_rooms_create(gnarl_tree_root(tree), &rooms, err) != 0) {
			FUZZ_CHECK(err[0], "a refused room table without a message");
			goto out;
		}
		(void)gnarl_llm_rooms_find(rooms, st.group, st.room);
	}
	if (gnarl_llm_template_compile(text, "user_prompt", &t, err) != 0) {
		FUZZ_CHECK(err[0], "a refused template without a message");
		goto out;
	}
	for (int32_t last = -1; last < 2; last++) {
		struct gnarl_llm_prompt_input in = {
		    .state = &st, .last_suggestion = last, .n_actions = 7, .names = names,
		    .rooms = rooms};

		out.len = 0;
		FUZZ_CHECK(gnarl_llm_template_render(t, &in, &out) == 0, "render failed");
		FUZZ_CHECK(out.len == 0 || (out.data && strlen(out.data) <= out.len),
		           "render left %zu bytes unterminated", out.len);
	}
out:
	free(out.data);
	gnarl_llm_template_free(t);
	gnarl_llm_rooms_free(rooms);
	gnarl_tree_free(tree);
	free(text);
	return 0;
}

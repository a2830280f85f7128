/*
 * llm_prompt.h - prompt templates filled from the game state, the room name
 * table, and the reply parser of the LLM plugins.
 *
 * Templates are compiled at create (an unknown placeholder is a config
 * error there, not a surprise later) and rendered on the worker thread.
 * Placeholders, in braces; "{{" and "}}" are literal braces:
 *   {actions}          the action names, comma-separated ("NOP, UP, ...")
 *   {location}         "Horon Village (overworld, room 0x12)" or "overworld room 0x12"
 *   {group} {room}     numbers; {group_name}: overworld, Subrosia, Maku Tree, indoors, dungeon
 *   {room_name}        from room_names, else "unknown"
 *   {dungeon}          dungeon index, "none" outside
 *   {x} {y}            Link's position in pixels; {direction}: up, right, down, left
 *   {health} {max_health}  hearts with quarters ("2.75"); {hearts}: "2.75/3"
 *   {rupees} {keys}    numbers
 *   {sword}            "none" or "level N"
 *   {items}            obtained treasures ("sword, Gnarled Key, treasure 0x13") or "none"
 *   {enemies}          enemies visible in the room
 *   {season}           spring, summer, autumn, winter
 *   {last_suggestion}  the action suggested last time for this env, or "none"
 */
#ifndef GNARL_LLM_PROMPT_H
#define GNARL_LLM_PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gnarl/plugin.h>

#include "llm_buf.h"

/* Action names are copied into fixed tables so that request() never
 * allocates: at most this many actions of at most this many bytes. */
#define GNARL_LLM_MAX_ACTIONS 32
#define GNARL_LLM_NAME_MAX 24

struct gnarl_llm_template;
struct gnarl_llm_rooms;

/* What a template is filled from; everything borrowed for the call. */
struct gnarl_llm_prompt_input {
	const struct gnarl_game_state *state;
	int32_t last_suggestion;                          /* -1: none */
	uint32_t n_actions;
	const char (*names)[GNARL_LLM_NAME_MAX];          /* n_actions names */
	const struct gnarl_llm_rooms *rooms;              /* may be NULL */
};

/* Compile `text`.  `param` names it in messages ("user_prompt").  *out is
 * owned: gnarl_llm_template_free().  0 or -1 with a message in err. */
int gnarl_llm_template_compile(const char *text, const char *param,
                               struct gnarl_llm_template **out, char err[GNARL_ERR_SIZE]);
void gnarl_llm_template_free(struct gnarl_llm_template *t);  /* accepts NULL */
/* Append the filled template to out.  0 or -1 (out of memory). */
int gnarl_llm_template_render(const struct gnarl_llm_template *t,
                              const struct gnarl_llm_prompt_input *in, struct gnarl_llm_buf *out);

/* Build the room name table from a MAP whose keys are "<group>/<room>"
 * (decimal or 0x-hex numbers, e.g. "0/0x12") and whose values are names.
 * map may be NULL (empty table).  0 or -1 with a message in err. */
int gnarl_llm_rooms_create(const struct gnarl_value *map, struct gnarl_llm_rooms **out,
                           char err[GNARL_ERR_SIZE]);
void gnarl_llm_rooms_free(struct gnarl_llm_rooms *r);  /* accepts NULL */
/* Borrowed name of (group, room), or NULL. */
const char *gnarl_llm_rooms_find(const struct gnarl_llm_rooms *r, int32_t group, int32_t room);

/* Parse a reply: the first line of the form "ACTION: <name>" (the key in
 * any case, optionally wrapped in markdown emphasis), or a JSON object
 * {"action": "<name>"} (optionally in a ``` fence).  <name> must equal an
 * action name exactly, ignoring case, surrounding quotes, backticks,
 * asterisks and one trailing period; "UP!" or "go UP" is not an action.
 * A truncated reply (finish_reason "length") counts only when its ACTION
 * line was finished by a newline.  Returns the action index or -1. */
int32_t gnarl_llm_reply_parse(const char *content, size_t len, bool truncated, uint32_t n_actions,
                              const char (*names)[GNARL_LLM_NAME_MAX]);

/* Read a whole chat-completions reply body (body[0..len), any bytes):
 * choices[0].message.content through gnarl_llm_reply_parse, with
 * *truncated set when choices[0].finish_reason is "length".  Returns the
 * action index, or -1 for a body without one. */
int32_t gnarl_llm_reply_read(const char *body, size_t len, uint32_t n_actions,
                             const char (*names)[GNARL_LLM_NAME_MAX], bool *truncated);

/* Whether an error body ({"error": {"type"|"code": ...}}) says the
 * account's quota is spent: a 429 that no retry will fix. */
bool gnarl_llm_reply_is_quota(const char *body, size_t len);

#endif /* GNARL_LLM_PROMPT_H */

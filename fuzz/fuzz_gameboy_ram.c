/*
 * fuzz_gameboy_ram.c - the gameboy env's RAM map (env.params.ram_map):
 * gnarl_gameboy_ram_parse as the plugin runs it at create, then, for a
 * map it accepts, the step path it guards: decoding the game state and
 * building the observation from a work-RAM image holding any bytes.
 * (The boot-input file the real-game stream adds gets a target of its
 * own: fuzz_gameboy_boot.c, next to this one.)
 *
 * Input: the ram_map in YAML (the map itself, as under `ram_map:`),
 * optionally followed by a line "#--ram" and bytes repeated to fill the
 * 32 KiB image (0xA5 when absent).
 *
 * Oracles besides the sanitizers (which catch a read outside the image,
 * the invariant the parser promises): a refusal has a message naming
 * params.ram_map; the observation is finite, and within [0, 1] except
 * the enemies' signed offsets.
 */
#include "fuzz.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gameboy.h"
#include "value.h"

#define MAX_OBS 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t wram[GB_WRAM_SIZE];
	static float obs[MAX_OBS];
	const char *parts[2];
	size_t lens[2], n;
	char err[GNARL_ERR_SIZE];
	struct gnarl_tree *tree = NULL;
	struct gb_ram_map map;
	struct gnarl_game_state st;
	struct gb_obs_shape shape = {.window = 1u + 2u * (uint32_t)(size % 16),
	                             .enemy_slots = (uint32_t)(size % 17)};
	uint32_t dim;

	if (size > 16 * 1024)
		return -1;
	n = fuzz_split(data, size, "#--ram", parts, lens, 2);
	if (gnarl_tree_parse(parts[0], lens[0], "ram_map", &tree, err) != 0)
		return 0;
	err[0] = '\0';
	if (gnarl_gameboy_ram_parse(gnarl_tree_root(tree), &map, err) != 0) {
		FUZZ_CHECK(!strncmp(err, "params.ram_map", 14), "a refusal that does not say "
		           "where: '%s'", err);
		goto out;
	}
	if (n == 2 && lens[1] > 0)
		for (size_t i = 0; i < sizeof(wram); i++)
			wram[i] = (uint8_t)parts[1][i % lens[1]];
	else
		memset(wram, 0xA5, sizeof(wram));
	memset(&st, 0, sizeof(st));
	gnarl_gameboy_ram_decode(&map, wram, &st);
	dim = gnarl_gameboy_ram_obs_dim(&shape);
	FUZZ_CHECK(dim <= MAX_OBS, "observation of %u floats", dim);
	gnarl_gameboy_ram_obs(&map, &shape, wram, &st, 0.5f, obs);
	for (uint32_t i = 0; i < dim; i++) {
		/* Enemy blocks hold dx and dy, which may be negative. */
		uint32_t first = dim - 4 * shape.enemy_slots;
		uint32_t e = i >= first ? (i - first) % 4 : 0;
		bool offset = e == 1 || e == 2;

		FUZZ_CHECK(isfinite(obs[i]) && (offset || (obs[i] >= 0.0f && obs[i] <= 1.0f)),
		           "observation[%u] = %g", i, (double)obs[i]);
	}
out:
	gnarl_tree_free(tree);
	return 0;
}

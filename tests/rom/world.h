/*
 * world.h - the test cartridge's rooms (included once, by game.c): each
 * room's group, number, size in 16x16 metatiles and map, one character a
 * metatile, row by row.  Map characters and the collision byte each gets
 * ($CE00, as Oracle of Seasons encodes them: a quarter-tile mask below
 * $10, bit 0 bottom-right, 1 bottom-left, 2 top-right, 3 top-left):
 *   . floor $00       # wall $0F         E floor, an enemy's start
 *   ^ wall in the top half, floor below $0C
 *   _ floor above, wall in the bottom half $03
 *   D door entered from below $0C        d door entered from above $03
 *   ~ water $10 (Link walks in, gets hurt and is put back)
 *   = bridge $19 (floor)                 S sword, K key (floor)
 * Room $06 of the dungeon is a large room (15 x 11), as all of Oracle of
 * Seasons' dungeon rooms are; the rest are 10 x 8.
 */
#ifndef GNARL_TEST_ROM_WORLD_H
#define GNARL_TEST_ROM_WORLD_H

struct room_def {
	uint8_t group, room, width, height;
	const char *map;
};

static const struct room_def rooms[] = {
	{0, 0x00, 10, 8, "##########" "#........#" "#.##..E..#" "#.##......"
	                 "#........." "#...##...#" "#..^^^...#" "####..####"},
	{0, 0x01, 10, 8, "##########" "#.####...#" "#.#DD#...#" ".........."
	                 ".........." "#......#.#" "#........#" "####..####"},
	{0, 0x02, 10, 8, "##########" "#........#" "#..##....#" "...##....#"
	                 ".........#" "#......#.#" "#........#" "####..####"},
	{0, 0x10, 10, 8, "####..####" "#........#" "#.#....#.#" "#........."
	                 "#.S......." "#........#" "#.#....#.#" "####..####"},
	{0, 0x11, 10, 8, "####..####" "#........#" "#.##..##.#" ".........."
	                 ".........." "#.##..##.#" "#........#" "####..####"},
	{0, 0x12, 10, 8, "####..####" "#........#" "#..#..#..#" "......E..#"
	                 ".........#" "#..#..#..#" "#........#" "####..####"},
	{0, 0x20, 10, 8, "####..####" "#........#" "#.#...##.#" "#.#......."
	                 "#........." "#...#....#" "#........#" "##########"},
	{0, 0x21, 10, 8, "####..####" "#........#" "#.#.E..#.#" ".........."
	                 ".........." "#.#....#.#" "#........#" "##########"},
	{0, 0x22, 10, 8, "####..####" "#........#" "#.##..##.#" ".........#"
	                 ".........#" "#.##..##.#" "#........#" "##########"},
	{4, 0x05, 10, 8, "##########" "#........#" "#.#....#.#" "......E..."
	                 ".........." "#.#....#.#" "#........#" "####dd####"},
	{4, 0x04, 10, 8, "##########" "#........#" "#.K....#.#" "#........."
	                 "#...E....." "#.#....#.#" "#........#" "##########"},
	{4, 0x06, 15, 11, "###############" "#.............#" "#..~~~~...^^..#"
	                  "..............#" "..............#" "#..~~=~~...___#"
	                  "#.............#" "#..######.....#" "#E............#"
	                  "#......~~~....#" "###############"},
};
#define N_ROOMS (sizeof(rooms) / sizeof(rooms[0]))

#endif /* GNARL_TEST_ROM_WORLD_H */

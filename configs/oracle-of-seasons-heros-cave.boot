# The Legend of Zelda: Oracle of Seasons (US): from power-on into the Hero's
# Cave (group 4, dungeon 0, room $04: a large room of 15 x 11 tiles), by
# way of free play in Horon Village.  The first part is oracle-of-seasons.boot
# line for line; the walk was planned on the collision map ($CE00) room by
# room and checked on screen.  For episodes that start in the dungeon:
#   env.params.boot: oracle-of-seasons-heros-cave.boot
# The format is in configs/README.md ("Boot files"); every address is in
# the public disassembly's include/wram.s.  The end state is cached (see
# the README), so this replays once per machine, ROM and gnarl backend.
gnarl-boot 1
rom "ZELDA DIN" md5 d109f98637a19c57af16c5e5396a8d51 f2dc6c4e093e4f8c6cbea80e8dbd62cb

# Power-on: the opening movie, then the title screen, which takes only START.
wait 6000
press START 8
wait 120
# File select: file 1, NEW GAME, the name "A" (A types the letter under the
# cursor; UP to the arrow row, LEFT wraps to OK).  Held buttons repeat on the
# name screen: each press is followed by frames with no button.
press A 16
wait 64
press A 16
wait 64
press A 16
wait 64
press UP 16
wait 32
press LEFT 16
wait 32
press A 16
wait 128
# File 1 again: the message speed menu; RIGHT x4 is speed 5 (fastest text).
press A 16
wait 128
press RIGHT 16
wait 16
press RIGHT 16
wait 16
press RIGHT 16
wait 16
press RIGHT 16
wait 16
press A 16
# "Accept our quest, hero!" ($CBA0 wTextIsActive), then the flight to
# Holodrum: Link wakes by Din's troupe (group 0, room $97).
until $CBA0 != 0 within 1200
wait 60
until $CBA0 == 0 within 600 tapping A
until $CC4C == $97 and $CC49 == 0 within 3000
until $CD00 == 1 within 600          # wScrollMode: 1 once the room is shown
wait 40
# Right into room $98: the troupe around the campfire, Din on the stump.
until $CC4C == $98 within 600 holding RIGHT
until $CD00 == 1 within 300          # the scroll is over
wait 16
# Talk to each of them; each sets a bit of $CFD3 when its text closes
# (scripts.s troupeScript*), all six ($3F) turn Din's into the dance.
until $D00D >= 24 within 120 holding RIGHT
press UP 40
until $CFD3 & $01 != 0 within 600 tapping A
until $D00D >= 56 within 120 holding RIGHT
press DOWN 60
until $CFD3 & $10 != 0 within 900 tapping A      # Impa
press RIGHT 40
until $CFD3 & $02 != 0 within 600 tapping A
until $D00B <= 56 within 120 holding UP
until $D00D >= 116 within 120 holding RIGHT
press DOWN 40
until $CFD3 & $04 != 0 within 600 tapping A
until $D00D >= 136 within 120 holding RIGHT
until $D00B >= 89 within 120 holding DOWN
press LEFT 40
until $CFD3 & $08 != 0 within 600 tapping A
until $D00B <= 56 within 120 holding UP
until $D00D <= 72 within 120 holding LEFT
press UP 40
until $CFD3 & $20 != 0 within 600 tapping A      # Din
wait 30
until $CFD3 & $40 != 0 within 600 tapping A      # Din again: the dance
# The dance, Onox takes Din, Link wakes in Horon Village in winter ($CC4E
# season 3) with Impa beside him.
until $CC4C == $B6 and $CC49 == 0 within 12000 tapping A
until $CBA0 != 0 within 900
until $CBA0 == 0 within 3000 tapping A            # Impa's talk
wait 200
# Free play: the overworld, room $B6, winter, no text, the screen still.
until $CC49 == 0 and $CC4C == $B6 and $CC4E == 3 and $CBA0 == 0 within 1
until $CD00 == 1 within 1

# ----------------------------------------------------------------------------
# From free play to the Hero's Cave: south to $C6, west through $C5 to $C4
# (winter), down its steps to $D4, west along the cliff top to $D3, down to
# the beach and back east into $D4, up into the cave mouth.  The Octoroks of
# $D3/$D4 may hit Link on the way (he arrives with 2 of his 3 hearts).
# $B6 -> $C6 (south)
until $D00B >= 118 within 400 holding DOWN
until $CC4C != $B6 within 300 holding DOWN
until $CD00 == 1 within 300
wait 8
# $C6 -> $C5 (west)
until $D00B >= 22 within 400 holding DOWN
until $D00D <= 10 within 400 holding LEFT
until $CC4C != $C6 within 300 holding LEFT
until $CD00 == 1 within 300
wait 8
# $C5 -> $C4 (west)
until $D00B >= 54 within 400 holding DOWN
until $D00D <= 10 within 400 holding LEFT
until $CC4C != $C5 within 300 holding LEFT
until $CD00 == 1 within 300
wait 8
# $C4: to the steps in the south wall, down to $D4
until $D00D <= 138 within 400 holding LEFT
until $D00B >= 86 within 400 holding DOWN
until $D00D <= 106 within 400 holding LEFT
until $D00B >= 102 within 400 holding DOWN
until $D00D <= 42 within 400 holding LEFT
until $CC4C != $C4 within 200 holding DOWN
until $CD00 == 1 within 300
wait 8
# $D4 (cliff top) -> $D3 (west)
until $D00D <= 10 within 400 holding LEFT
until $CC4C != $D4 within 300 holding LEFT
until $CD00 == 1 within 300
wait 8
# $D3: down the slope to the beach, east -> $D4 (beach)
until $D00B >= 38 within 400 holding DOWN
until $D00D <= 58 within 400 holding LEFT
until $D00B >= 102 within 400 holding DOWN
until $D00D >= 150 within 400 holding RIGHT
until $CC4C != $D3 within 300 holding RIGHT
until $CD00 == 1 within 300
wait 8
# $D4: below the cave mouth, up into it: group 4, dungeon 0
until $D00D >= 70 within 400 holding RIGHT
until $CC49 == 4 within 120 holding UP
until $CD00 == 1 within 400
until $CBA0 == 0 within 600 tapping A
wait 30
until $CBA0 == 0 within 600 tapping A
until $CD00 == 1 within 300
wait 30
# In the Hero's Cave's first room, large, the screen still.
until $CC49 == 4 and $CC4C == $04 and $CC55 == 0 and $CC4A == 1 within 1
until $CD0A == 30 and $CD0B == 22 and $CD00 == 1 and $CBA0 == 0 within 1

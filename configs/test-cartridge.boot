# The free test cartridge (tests/rom): its title screen waits for START.
gnarl-boot 1
rom "GNARLTEST"
wait 60
press START 8
wait 30

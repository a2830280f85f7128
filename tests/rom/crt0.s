; crt0.s - start-up code of the gnarl test cartridge (sdasgb syntax).
;
; Owns the fixed part of the ROM: the RST and interrupt vectors, the entry
; at 0x100 (jumping past the header that makebin writes at 0x104-0x14F), and
; `init` at 0x150: stack, WRAM bank 1 selected (CGB), all work RAM cleared,
; initialised C data copied, then main().  Also exports wait_vblank(), the
; HALT the game sleeps in between frames (so the emulator runs light frames),
; and oam_dma(), which copies the shadow sprite table at C000 to OAM.
;
; Invariants: only the VBlank interrupt is ever enabled (main sets IE), so
; HALT returns once per frame.  C000-C09F is the shadow sprite table, the
; stack grows down from C200, the C globals start at C200 (_DATA, see
; CMakeLists.txt): all far below the addresses the real game's RAM map uses
; (C61E and up).

	.module crt0
	.globl	_main
	.globl	_boot_a

STACK_TOP = 0xc200
SHADOW_OAM_PAGE = 0xc0
HRAM_DMA = 0xff80

	.area	_HEADER (ABS)

	; RST vectors: nothing calls them; 0x38 is what a run into empty ROM
	; (0xFF bytes) executes, so it stops the CPU where a debugger sees it.
	.org	0x00
	ret
	.org	0x08
	ret
	.org	0x10
	ret
	.org	0x18
	ret
	.org	0x20
	ret
	.org	0x28
	ret
	.org	0x30
	ret
	.org	0x38
	jp	crashed

	; Interrupt vectors.  VBlank only wakes the CPU from HALT.
	.org	0x40
	reti
	.org	0x48
	reti
	.org	0x50
	reti
	.org	0x58
	reti
	.org	0x60
	reti

	; Entry point; the cartridge header follows at 0x104.
	.org	0x100
	nop
	jp	init

	.org	0x150
init:
	di
	ld	sp, #STACK_TOP
	ld	e, a			; A = 0x11 at boot on a Game Boy Color
	; Map WRAM bank 1 at D000 (the real game keeps its objects there);
	; a DMG ignores the write and always maps bank 1.
	ld	a, #1
	ldh	(0x70), a
	; Clear C000-DFFF.
	ld	hl, #0xc000
	ld	bc, #0x2000
clear_wram:
	xor	a
	ld	(hl+), a
	dec	bc
	ld	a, b
	or	a, c
	jr	nz, clear_wram
	; Clear HRAM FF80-FFFE.
	ld	hl, #0xff80
	ld	c, #0x7f
clear_hram:
	xor	a
	ld	(hl+), a
	dec	c
	jr	nz, clear_hram
	; e survived the loops above; the copies below use de.
	ld	a, e
	ld	(_boot_a), a
	; The OAM DMA routine must run from HRAM (the CPU sees nothing else
	; while the DMA runs).
	ld	hl, #dma_routine
	ld	de, #HRAM_DMA
	ld	c, #dma_routine_end - dma_routine
copy_dma:
	ld	a, (hl+)
	ld	(de), a
	inc	de
	dec	c
	jr	nz, copy_dma
	; Copy initialised C data from ROM.
	ld	de, #s__INITIALIZED
	ld	hl, #s__INITIALIZER
	ld	bc, #l__INITIALIZER
copy_data:
	ld	a, b
	or	a, c
	jr	z, data_done
	ld	a, (hl+)
	ld	(de), a
	inc	de
	dec	bc
	jr	copy_data
data_done:
	call	_main
crashed:
	di
	halt
	jr	crashed

	; Copied to HRAM: start the DMA from C000, wait its 160 cycles.
dma_routine:
	ld	a, #SHADOW_OAM_PAGE
	ldh	(0x46), a
	ld	a, #40
dma_wait:
	dec	a
	jr	nz, dma_wait
	ret
dma_routine_end:

	; Linker order of the relocatable areas.
	.area	_HOME
	.area	_CODE
	.area	_INITIALIZER
	.area	_GSINIT
	.area	_GSFINAL
	.area	_DATA
	.area	_INITIALIZED
	.area	_BSEG
	.area	_BSS
	.area	_HEAP

	.area	_CODE
; void wait_vblank(void): sleep until the next VBlank interrupt.
_wait_vblank::
	halt
	nop
	ret

; void oam_dma(void): shadow sprite table -> OAM; call in VBlank.
_oam_dma::
	jp	HRAM_DMA

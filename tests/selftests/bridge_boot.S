/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bridge_boot.S - a boot sector for the bridge test's QEMU run.
 *
 * QEMU boots it with SeaBIOS from a vhost-user-blk-pci disk served by
 * vhost-user-blk-bridge, so every sector below moves through QEMU's
 * vhost-user frontend, the bridge and /dev/vhost-blk. With INT 13h
 * extensions it:
 *
 *   1. reads sectors 1-8 and checks that sector k is filled with
 *      k ^ 0x5a (the test wrote them);
 *   2. on the first boot sets byte 0 of sector 21 and resets the machine
 *      (the device is stopped and started again by QEMU);
 *   3. on the second, writes sector 20 with byte i = (i & 0xff) ^ 0xa5,
 *      reads it back and compares.
 *
 * It reports on COM1 and leaves QEMU through isa-debug-exit at port 0xf4:
 * exit status 33 for success, 35 for a failure.
 */
	.code16
	.text
	.globl	_start
_start:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	$0x7c00, %sp
	sti
	cld
	movb	%dl, drive
	movw	$hello, %si
	call	puts

	/* 1. Sectors 1-8 to 0x8000, each one byte value throughout. */
	movw	$dap_rd, %si
	call	read
	movw	$0x8000, %di
	movb	$1, %bl
1:	movb	%bl, %al
	xorb	$0x5a, %al
	movw	$512, %cx
2:	cmpb	%al, (%di)
	jne	fail
	incw	%di
	loop	2b
	incb	%bl
	cmpb	$9, %bl
	jne	1b

	/* 2. First boot: note it in sector 21 and reset the machine. */
	movw	$dap_boot, %si
	call	read
	cmpb	$0, 0xb000
	jne	3f
	movb	$1, 0xb000
	movw	$dap_boot, %si
	call	write
	movw	$reboot, %si
	call	puts
	movb	$0xfe, %al		/* pulse the reset line */
	outb	%al, $0x64
	jmp	halt

	/* 3. Second boot: write sector 20 and read it back. */
3:	movw	$0x9000, %di
	xorw	%cx, %cx
4:	movb	%cl, %al
	xorb	$0xa5, %al
	movb	%al, (%di)
	incw	%di
	incw	%cx
	cmpw	$512, %cx
	jne	4b
	movw	$dap_wr, %si
	call	write
	movw	$dap_rb, %si
	call	read
	movw	$0x9000, %si
	movw	$0xa000, %di
	movw	$512, %cx
	repe cmpsb
	jne	fail

	movw	$ok, %si
	call	puts
	movb	$0x10, %al		/* QEMU exits with 0x10 << 1 | 1 */
	outb	%al, $0xf4
	jmp	halt

fail:
	movw	$bad, %si
	call	puts
	movb	$0x11, %al
	outb	%al, $0xf4
halt:
	hlt
	jmp	halt

/* INT 13h AH=42h / AH=43h with the address packet at %si; fail on error. */
read:
	movb	$0x42, %ah
	jmp	5f
write:
	movw	$0x4300, %ax
5:	movb	drive, %dl
	int	$0x13
	jc	fail
	ret

/* The string at %si to COM1. */
puts:
	lodsb
	testb	%al, %al
	jz	6f
	movw	$0x3f8, %dx
	outb	%al, %dx
	jmp	puts
6:	ret

drive:	.byte	0
	.balign	4
/* Disk address packets: size, 0, sectors, offset, segment, LBA. */
dap_rd:	.byte	16, 0
	.word	8, 0x8000, 0
	.quad	1
dap_boot:
	.byte	16, 0
	.word	1, 0xb000, 0
	.quad	21
dap_wr:	.byte	16, 0
	.word	1, 0x9000, 0
	.quad	20
dap_rb:	.byte	16, 0
	.word	1, 0xa000, 0
	.quad	20
hello:	.asciz	"e2e: boot sector running\r\n"
reboot:	.asciz	"e2e: rebooting\r\n"
ok:	.asciz	"e2e: OK\r\n"
bad:	.asciz	"e2e: FAIL\r\n"

	. = _start + 510
	.byte	0x55, 0xaa

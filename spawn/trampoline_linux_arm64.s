// The spawn trampoline and raw-syscall stubs for linux/arm64. The child
// side of each runs with no g: R28 (g) is zeroed and the thread pointer is
// a zeroed block (CLONE_SETTLS). Built and vetted in CI; not run there.

#include "textflag.h"

#define SYS_rt_sigprocmask	135
#define SYS_clone	220
#define SYS_exit_group	94
#define SYS_clone3	435
#define SIG_SETMASK	2

// func trampoline(args *cloneArgs, size uintptr, fn uintptr, arg uintptr, all *uint64, old *uint64) (pid uintptr, errno uintptr)
TEXT ·trampoline(SB),NOSPLIT|NOFRAME,$0-64
	MOVD	$SIG_SETMASK, R0
	MOVD	all+32(FP), R1
	MOVD	old+40(FP), R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC
	MOVD	fn+16(FP), R19
	MOVD	arg+24(FP), R20
	MOVD	old+40(FP), R21
	MOVD	args+0(FP), R0
	MOVD	size+8(FP), R1
	MOVD	$SYS_clone3, R8
	SVC
	CBZ	R0, child
	MOVD	R0, R22
	MOVD	$SIG_SETMASK, R0
	MOVD	R21, R1
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$SYS_rt_sigprocmask, R8
	SVC
	CMN	$4095, R22
	BCC	ok
	NEG	R22, R22
	MOVD	$0, R0
	MOVD	R0, pid+48(FP)
	MOVD	R22, errno+56(FP)
	RET
ok:
	MOVD	R22, pid+48(FP)
	MOVD	$0, R0
	MOVD	R0, errno+56(FP)
	RET
child:
	MOVD	$0, g
	MOVD	$0, R29
	MOVD	R20, R0
	CALL	(R19)
	MOVD	$127, R0
	MOVD	$SYS_exit_group, R8
	SVC
	BRK

// func rawClone(flags uintptr, stack uintptr, fn uintptr, arg uintptr) (pid uintptr, errno uintptr)
TEXT ·rawClone(SB),NOSPLIT|NOFRAME,$0-48
	MOVD	fn+16(FP), R19
	MOVD	arg+24(FP), R20
	MOVD	flags+0(FP), R0
	MOVD	stack+8(FP), R1
	MOVD	$0, R2
	MOVD	$0, R3
	MOVD	$0, R4
	MOVD	$SYS_clone, R8
	SVC
	CBZ	R0, child
	CMN	$4095, R0
	BCC	ok
	NEG	R0, R0
	MOVD	R0, errno+40(FP)
	MOVD	$0, R0
	MOVD	R0, pid+32(FP)
	RET
ok:
	MOVD	R0, pid+32(FP)
	MOVD	$0, R0
	MOVD	R0, errno+40(FP)
	RET
child:
	MOVD	$0, g
	MOVD	$0, R29
	MOVD	R20, R0
	CALL	(R19)
	MOVD	$127, R0
	MOVD	$SYS_exit_group, R8
	SVC
	BRK

// func rawSyscall6(nr, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr)
TEXT ·rawSyscall6(SB),NOSPLIT|NOFRAME,$0-72
	MOVD	a1+8(FP), R0
	MOVD	a2+16(FP), R1
	MOVD	a3+24(FP), R2
	MOVD	a4+32(FP), R3
	MOVD	a5+40(FP), R4
	MOVD	a6+48(FP), R5
	MOVD	nr+0(FP), R8
	SVC
	CMN	$4095, R0
	BCC	ok
	NEG	R0, R0
	MOVD	R0, errno+64(FP)
	MOVD	$0, R0
	MOVD	R0, r1+56(FP)
	RET
ok:
	MOVD	R0, r1+56(FP)
	MOVD	$0, R0
	MOVD	R0, errno+64(FP)
	RET

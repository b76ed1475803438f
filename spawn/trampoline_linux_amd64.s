// The spawn trampoline and raw-syscall stubs for linux/amd64. The child
// side of each runs with no g: R14 is zeroed, X15 is zeroed (the ABIInternal
// zero register), and the thread pointer is a zeroed block (CLONE_SETTLS).

#include "textflag.h"

#define SYS_rt_sigprocmask	14
#define SYS_clone	56
#define SYS_exit_group	231
#define SYS_clone3	435
#define SIG_SETMASK	2

// func trampoline(args *cloneArgs, size uintptr, fn uintptr, arg uintptr, all *uint64, old *uint64) (pid uintptr, errno uintptr)
TEXT ·trampoline(SB),NOSPLIT|NOFRAME,$0-64
	// Block every signal on this thread; the child starts with them all
	// blocked and restores *old itself just before exec.
	MOVQ	$SYS_rt_sigprocmask, AX
	MOVQ	$SIG_SETMASK, DI
	MOVQ	all+32(FP), SI
	MOVQ	old+40(FP), DX
	MOVQ	$8, R10
	SYSCALL
	// fn and arg live in registers the kernel preserves: the child cannot
	// read them from this frame once it is on its own stack.
	MOVQ	fn+16(FP), R12
	MOVQ	arg+24(FP), R13
	MOVQ	args+0(FP), DI
	MOVQ	size+8(FP), SI
	MOVQ	$SYS_clone3, AX
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	MOVQ	AX, R12
	MOVQ	$SYS_rt_sigprocmask, AX
	MOVQ	$SIG_SETMASK, DI
	MOVQ	old+40(FP), SI
	MOVQ	$0, DX
	MOVQ	$8, R10
	SYSCALL
	CMPQ	R12, $0xfffffffffffff001
	JLS	ok
	NEGQ	R12
	MOVQ	$0, pid+48(FP)
	MOVQ	R12, errno+56(FP)
	RET
ok:
	MOVQ	R12, pid+48(FP)
	MOVQ	$0, errno+56(FP)
	RET
child:
	XORL	R14, R14
	XORPS	X15, X15
	XORL	BP, BP
	MOVQ	R13, AX
	CALL	R12
	MOVL	$127, DI
	MOVL	$SYS_exit_group, AX
	SYSCALL
	INT	$3

// func rawClone(flags uintptr, stack uintptr, fn uintptr, arg uintptr) (pid uintptr, errno uintptr)
TEXT ·rawClone(SB),NOSPLIT|NOFRAME,$0-48
	MOVQ	fn+16(FP), R12
	MOVQ	arg+24(FP), R13
	MOVQ	flags+0(FP), DI
	MOVQ	stack+8(FP), SI
	XORL	DX, DX
	XORL	R10, R10
	XORL	R8, R8
	MOVQ	$SYS_clone, AX
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	$0, pid+32(FP)
	MOVQ	AX, errno+40(FP)
	RET
ok:
	MOVQ	AX, pid+32(FP)
	MOVQ	$0, errno+40(FP)
	RET
child:
	XORL	R14, R14
	XORPS	X15, X15
	XORL	BP, BP
	MOVQ	R13, AX
	CALL	R12
	MOVL	$127, DI
	MOVL	$SYS_exit_group, AX
	SYSCALL
	INT	$3

// func rawSyscall6(nr, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr)
TEXT ·rawSyscall6(SB),NOSPLIT|NOFRAME,$0-72
	MOVQ	nr+0(FP), AX
	MOVQ	a1+8(FP), DI
	MOVQ	a2+16(FP), SI
	MOVQ	a3+24(FP), DX
	MOVQ	a4+32(FP), R10
	MOVQ	a5+40(FP), R8
	MOVQ	a6+48(FP), R9
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	$0, r1+56(FP)
	MOVQ	AX, errno+64(FP)
	RET
ok:
	MOVQ	AX, r1+56(FP)
	MOVQ	$0, errno+64(FP)
	RET

/*
 * nop: the static child of the spawn benchmarks. No libc, no start-up code:
 * _start exits 0 through a raw syscall. glibc's start-up costs ~0.5 ms on
 * the CI machine kind (CPUID traps to the hypervisor), which would hide the
 * spawn mechanism itself; this child costs one execve and one exit.
 *
 * Build: gcc -nostdlib -static -O2 -o nop nop.c
 */
void _start(void) __attribute__((noreturn));

void _start(void)
{
#if defined(__x86_64__)
	__asm__ volatile("mov $231, %%eax\n\t" /* exit_group */
			 "xor %%edi, %%edi\n\t"
			 "syscall" ::: "rax", "rdi", "memory");
#elif defined(__aarch64__)
	__asm__ volatile("mov x0, #0\n\t"
			 "mov x8, #94\n\t" /* exit_group */
			 "svc #0" ::: "x0", "x8", "memory");
#else
#error "nop.c: add the exit_group syscall for this architecture"
#endif
	for (;;)
		;
}

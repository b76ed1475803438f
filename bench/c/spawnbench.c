/*
 * spawnbench: the C reference for the spawn benchmarks. It spawns a binary
 * N times with glibc posix_spawn (or vfork+execve, or fork+execve), waits
 * for each child, and prints one machine-readable line:
 *
 *   spawnbench method=M k=K n=N p50_us=… p90_us=… p99_us=… mean_us=…
 *              cpu_us=… rate=… child=PATH
 *
 *   p50/p90/p99/mean  per spawn, from the spawn call until the child is
 *                     reaped (µs), over all N timed spawns of all threads
 *   cpu_us            parent CPU (getrusage(RUSAGE_SELF) user+sys, all
 *                     threads) per timed spawn, in µs
 *   rate              timed spawns per second of wall time (throughput)
 *
 * Usage: spawnbench [-m posix_spawn|vfork|fork|clone_vm] [-n N] [-k K] [-w W] [-E]
 *                   PATH [ARG...]
 *   -n  timed spawns in total (default 2000), split over the K threads
 *   -k  concurrent spawner threads (default 1)
 *   -w  untimed warm-up spawns per thread (default 50)
 *   -E  pass the parent's environment (default: an empty one)
 * argv[0] of the child is PATH unless ARGs are given, in which case ARGs
 * are the whole argv. Every child must exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum method { M_POSIX_SPAWN, M_VFORK, M_FORK, M_CLONE_VM };
static const char *const method_names[] = { "posix_spawn", "vfork", "fork", "clone_vm" };

static enum method method = M_POSIX_SPAWN;
static const char *path;
static char **child_argv;
static char *empty_env[] = { NULL };
static char **child_env = empty_env;
static long per_thread, warmup = 50;
static double *lat;
static pthread_barrier_t barrier;

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "spawnbench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* The clone_vm child: it shares the parent's memory until execve. */
static int clone_child(void *arg)
{
	(void)arg;
	execve(path, child_argv, child_env);
	_exit(127);
}

enum { CLONE_STACK = 64 << 10 };

static void spawn_one(char *stack_top)
{
	pid_t pid = -1;
	int st, err, p[2];
	char c;

	switch (method) {
	case M_POSIX_SPAWN:
		err = posix_spawn(&pid, path, NULL, NULL, child_argv, child_env);
		if (err)
			die("posix_spawn", err);
		break;
	case M_VFORK:
		pid = vfork();
		if (pid == 0) {
			execve(path, child_argv, child_env);
			_exit(127);
		}
		break;
	case M_FORK:
		pid = fork();
		if (pid == 0) {
			execve(path, child_argv, child_env);
			_exit(127);
		}
		break;
	case M_CLONE_VM:
		if (pipe2(p, O_CLOEXEC) < 0)
			die("pipe2", errno);
		pid = clone(clone_child, stack_top, CLONE_VM | SIGCHLD, NULL);
		close(p[1]);
		if (pid > 0)
			while (read(p[0], &c, 1) < 0 && errno == EINTR)
				;
		close(p[0]);
		break;
	}
	if (pid < 0)
		die(method_names[method], errno);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid", errno);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "spawnbench: child %s ended with status %#x\n", path, st);
		exit(1);
	}
}

static void *worker(void *arg)
{
	double *mine = lat + (long)arg * per_thread;
	char *stack = NULL, *top = NULL;

	if (method == M_CLONE_VM) {
		stack = malloc(CLONE_STACK);
		if (!stack)
			die("malloc", ENOMEM);
		top = stack + CLONE_STACK;
	}
	for (long i = 0; i < warmup; i++)
		spawn_one(top);
	pthread_barrier_wait(&barrier);
	for (long i = 0; i < per_thread; i++) {
		double t0 = now_us();
		spawn_one(top);
		mine[i] = now_us() - t0;
	}
	free(stack);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *v, long n, double p)
{
	long i = (long)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static void usage(void)
{
	fprintf(stderr, "usage: spawnbench [-m posix_spawn|vfork|fork|clone_vm] [-n N] [-k K] [-w W] [-E] PATH [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long n = 2000, k = 1;
	int c;

	while ((c = getopt(argc, argv, "+m:n:k:w:E")) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "posix_spawn"))
				method = M_POSIX_SPAWN;
			else if (!strcmp(optarg, "vfork"))
				method = M_VFORK;
			else if (!strcmp(optarg, "fork"))
				method = M_FORK;
			else if (!strcmp(optarg, "clone_vm"))
				method = M_CLONE_VM;
			else
				usage();
			break;
		case 'n':
			n = atol(optarg);
			break;
		case 'k':
			k = atol(optarg);
			break;
		case 'w':
			warmup = atol(optarg);
			break;
		case 'E':
			child_env = environ;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || n < 1 || k < 1 || warmup < 0)
		usage();
	path = argv[optind];
	if (optind + 1 < argc) {
		child_argv = &argv[optind + 1];
	} else {
		static char *one[2];
		one[0] = argv[optind];
		child_argv = one;
	}
	per_thread = (n + k - 1) / k;
	n = per_thread * k;
	lat = calloc((size_t)n, sizeof(*lat));
	pthread_t *th = calloc((size_t)k, sizeof(*th));
	if (!lat || !th)
		die("calloc", ENOMEM);

	pthread_barrier_init(&barrier, NULL, (unsigned)k + 1);
	for (long i = 0; i < k; i++) {
		int err = pthread_create(&th[i], NULL, worker, (void *)i);
		if (err)
			die("pthread_create", err);
	}
	pthread_barrier_wait(&barrier);
	double cpu0 = cpu_us(), t0 = now_us();
	for (long i = 0; i < k; i++)
		pthread_join(th[i], NULL);
	double t1 = now_us(), cpu1 = cpu_us();

	double sum = 0;
	for (long i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("spawnbench method=%s k=%ld n=%ld p50_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f cpu_us=%.2f rate=%.1f child=%s\n",
	       method_names[method], k, n, pct(lat, n, 0.5), pct(lat, n, 0.9), pct(lat, n, 0.99), sum / (double)n,
	       (cpu1 - cpu0) / (double)n, (double)n / ((t1 - t0) / 1e6), path);
	return 0;
}
